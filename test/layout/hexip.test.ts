import { describe, expect, test } from "bun:test";
import {
  decodeHexName,
  decodeMacName,
  formatHexNetwork,
  formatIPv4,
  hexIpName,
  hexIpSearch,
  macName,
  parseIPv4,
  parseMac,
  parseUuid,
} from "../../src/layout/hexip.ts";
import { parseHostSpec } from "../../src/layout/hostspec.ts";
import { UsageError } from "../../src/cli/args.ts";

const ip = (s: string) => parseIPv4(s)!;

describe("hex IP names", () => {
  test("192.168.0.11 is C0A8000B, and small addresses keep their leading zeros", () => {
    expect(hexIpName(ip("192.168.0.11"))).toBe("C0A8000B");
    expect(hexIpName(ip("10.1.0.5"))).toBe("0A010005");
    expect(hexIpName(ip("127.0.0.11"))).toBe("7F00000B");
    expect(hexIpName(ip("255.255.255.255"))).toBe("FFFFFFFF");
  });

  test("the search shrinks one digit at a time, 8 names", () => {
    expect(hexIpSearch(ip("192.168.0.11"))).toEqual([
      "C0A8000B", "C0A8000", "C0A800", "C0A80", "C0A8", "C0A", "C0", "C",
    ]);
  });

  test("decoding a name gives the network it covers", () => {
    expect(formatHexNetwork(decodeHexName("C0A8000B")!)).toBe("192.168.0.11");
    expect(formatHexNetwork(decodeHexName("C0A800")!)).toBe("192.168.0.0/24");
    expect(formatHexNetwork(decodeHexName("0A")!)).toBe("10.0.0.0/8");
    expect(decodeHexName("c0a8000b")).toBeUndefined(); // pxelinux never asks in lower case
    expect(decodeHexName("default")).toBeUndefined();
    expect(decodeHexName("C0A8000B0")).toBeUndefined();
  });

  test("IPv4 parsing rejects junk and round-trips", () => {
    for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "a.b.c.d", ""]) expect(parseIPv4(bad)).toBeUndefined();
    expect(formatIPv4(ip("172.16.254.1"))).toBe("172.16.254.1");
  });
});

describe("MAC names", () => {
  test("every common MAC spelling becomes 01-aa-bb-cc-dd-ee-ff", () => {
    for (const s of ["AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff", "AABBCCDDEEFF"])
      expect(macName(parseMac(s)!)).toBe("01-aa-bb-cc-dd-ee-ff");
    expect(parseMac("aa:bb-cc:dd:ee:ff")).toBeUndefined(); // mixed separators
    expect(parseMac("aa:bb:cc:dd:ee")).toBeUndefined();
    expect(decodeMacName("01-aa-bb-cc-dd-ee-ff")).toBe("aa:bb:cc:dd:ee:ff");
    expect(decodeMacName("01-AA-BB-CC-DD-EE-FF")).toBeUndefined();
  });

  test("UUIDs are lower-cased, other text refused", () => {
    expect(parseUuid("B8945908-D6A6-41A9-611D-74A6AB80B83D")).toBe("b8945908-d6a6-41a9-611d-74a6ab80b83d");
    expect(parseUuid("not-a-uuid")).toBeUndefined();
  });
});

describe("host specs", () => {
  const ips = (s: string) => {
    const spec = parseHostSpec(s);
    if (spec.kind !== "ips") throw new Error("expected addresses");
    return spec.ips.map(formatIPv4);
  };

  test("one address, a MAC", () => {
    expect(ips("192.168.0.11")).toEqual(["192.168.0.11"]);
    expect(parseHostSpec("aa:bb:cc:dd:ee:ff")).toEqual({ kind: "mac", mac: "aa:bb:cc:dd:ee:ff" });
  });

  test("every name `host list` prints is a host: hex IP, 01-MAC, MAC with colons or dashes", () => {
    expect(ips("C0A8000C")).toEqual(["192.168.0.12"]);
    expect(ips("c0a8000c")).toEqual(["192.168.0.12"]);
    expect(ips("7F00000B")).toEqual(["127.0.0.11"]);
    const mac = { kind: "mac", mac: "aa:bb:cc:dd:ee:ff" };
    for (const form of ["01-aa-bb-cc-dd-ee-ff", "01-AA-BB-CC-DD-EE-FF", "aa-bb-cc-dd-ee-ff", "AA:BB:CC:DD:EE:FF", "aabb.ccdd.eeff"])
      expect(parseHostSpec(form)).toEqual(mac as never);
    // A shorter hex name is a subnet-wide entry: not silently taken for a host.
    expect(() => parseHostSpec("C0A800")).toThrow(/subnet entry for 192\.168\.0\.0\/24, not one host/);
  });

  test("CIDR leaves out network and broadcast addresses except for /31 and /32", () => {
    const c = ips("192.168.0.0/24");
    expect(c.length).toBe(254);
    expect(c[0]).toBe("192.168.0.1");
    expect(c.at(-1)).toBe("192.168.0.254");
    expect(ips("10.0.0.4/31")).toEqual(["10.0.0.4", "10.0.0.5"]);
    expect(ips("10.0.0.4/32")).toEqual(["10.0.0.4"]);
  });

  test("ranges, full and abbreviated", () => {
    expect(ips("192.168.0.10-192.168.0.12")).toEqual(["192.168.0.10", "192.168.0.11", "192.168.0.12"]);
    expect(ips("192.168.0.10-12")).toEqual(["192.168.0.10", "192.168.0.11", "192.168.0.12"]);
    expect(ips("10.0.0.255-10.0.1.0")).toEqual(["10.0.0.255", "10.0.1.0"]);
  });

  test("bad input fails with a message naming the input and the fix", () => {
    const cases: [string, RegExp][] = [
      ["10.0.0.0/8", /16777214 hosts, more than 4096: split/],
      ["192.168.0.5/24", /host bits set: did you mean 192\.168\.0\.0\/24/],
      ["192.168.0.20-10", /ends before it starts/],
      ["server7", /'server7' is not a host: use an IPv4 address/],
      ["10.0.0.0/33", /not a valid CIDR/],
    ];
    for (const [input, msg] of cases) {
      expect(() => parseHostSpec(input)).toThrow(UsageError);
      expect(() => parseHostSpec(input)).toThrow(msg);
    }
  });
});

