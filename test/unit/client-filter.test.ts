import { describe, expect, test } from "bun:test";
import { clientFilter, parseCidr } from "../../src/server/admission/client-filter.ts";

describe("--allow / --deny", () => {
  test("no lists: no filter at all (nothing to check per request)", () => {
    expect(clientFilter([], [])).toBeUndefined();
  });

  test("allow lists what is answered; IPv4-mapped addresses match IPv4 blocks", () => {
    const f = clientFilter(["192.168.0.0/24", "10.1.2.3"], [])!;
    expect(f.allows("192.168.0.11")).toBe(true);
    expect(f.allows("::ffff:192.168.0.200")).toBe(true);
    expect(f.allows("192.168.1.11")).toBe(false);
    expect(f.allows("10.1.2.3")).toBe(true);
    expect(f.allows("10.1.2.4")).toBe(false);
    expect(f.allows("fd00::1")).toBe(false);
  });

  test("deny wins over allow; deny alone lets everything else in", () => {
    const f = clientFilter(["10.0.0.0/8"], ["10.9.0.0/16"])!;
    expect(f.allows("10.1.0.1")).toBe(true);
    expect(f.allows("10.9.3.4")).toBe(false);
    const g = clientFilter([], ["127.0.0.2/32", "fe80::/10"])!;
    expect(g.allows("127.0.0.1")).toBe(true);
    expect(g.allows("127.0.0.2")).toBe(false);
    expect(g.allows("fe80::1%eth0")).toBe(false);
    expect(g.allows("fd00::1")).toBe(true);
  });

  test("IPv6 blocks, compressed and with an IPv4 tail", () => {
    const f = clientFilter(["fd00:1:2::/48", "::ffff:0:0/96"], [])!;
    expect(f.allows("fd00:1:2:3::9")).toBe(true);
    expect(f.allows("fd00:1:3::9")).toBe(false);
    expect(parseCidr("::1", "--allow").bits).toBe(128);
  });

  test("bad blocks are errors naming the flag and the form", () => {
    expect(() => parseCidr("192.168.0.0/33", "--allow")).toThrow(/--allow '192\.168\.0\.0\/33': the prefix length must be 0 to 32/);
    expect(() => parseCidr("nonsense", "--deny")).toThrow(/--deny needs an address or CIDR block/);
    expect(() => parseCidr("10.0.0.0/8/8", "--deny")).toThrow(/--deny needs/);
  });
});
