import { describe, expect, test } from "bun:test";
import { negotiate, withTsize, type NegotiationLimits } from "../../src/protocol/options.ts";

const limits: NegotiationLimits = { blockSizeMax: 65464, windowSizeMax: 64, rollover: 0, windowBytesMax: 4 << 20 };
const opts = (o: Record<string, string>) => new Map(Object.entries(o));

describe("option negotiation (RFC 2347/2348/2349/7440)", () => {
  test("no options: plain RFC 1350 transfer, no OACK", () => {
    const n = negotiate(opts({}), limits);
    expect(n.oack.size).toBe(0);
    expect(n.options).toEqual({ blockSize: 512, windowSize: 1, rollover: 0 });
  });

  test("only requested, understood options are answered, in request order", () => {
    const n = negotiate(opts({ tsize: "0", blksize: "1468", multicast: "", windowsize: "4", foo: "bar" }), limits);
    expect([...n.oack.keys()]).toEqual(["tsize", "blksize", "windowsize"]);
    expect(n.wantsTsize).toBe(true);
    expect(withTsize(n.oack, 1234).get("tsize")).toBe("1234");
    expect(n.options.blockSize).toBe(1468);
    expect(n.options.windowSize).toBe(4);
  });

  test("an empty file's tsize is left out of the OACK (curl rejects tsize 0); nothing else is", () => {
    const n = negotiate(opts({ tsize: "0", blksize: "512", timeout: "6" }), limits);
    expect([...withTsize(n.oack, 0)]).toEqual([["blksize", "512"], ["timeout", "6"]]);
    // Only tsize asked: no OACK at all, DATA 1 answers the request.
    expect(withTsize(negotiate(opts({ tsize: "0" }), limits).oack, 0).size).toBe(0);
    expect(withTsize(n.oack, 1).get("tsize")).toBe("1");
  });

  test("blksize bounds: below 8 ignored, above the cap lowered", () => {
    expect(negotiate(opts({ blksize: "7" }), limits).oack.size).toBe(0);
    expect(negotiate(opts({ blksize: "8" }), limits).options.blockSize).toBe(8);
    expect(negotiate(opts({ blksize: "70000" }), limits).oack.get("blksize")).toBe("65464");
    expect(negotiate(opts({ blksize: "9000" }), { ...limits, blockSizeMax: 1468 }).oack.get("blksize")).toBe("1468");
  });

  test("malformed values are ignored, never a crash", () => {
    for (const v of ["", "abc", "-5", "0x10", "1e3", " 512", "99999999999"]) {
      const n = negotiate(opts({ blksize: v, timeout: v, windowsize: v }), limits);
      expect(n.oack.has("timeout")).toBe(false);
      expect(n.oack.has("windowsize")).toBe(false);
    }
  });

  test("timeout 1-255 accepted as asked, else ignored", () => {
    expect(negotiate(opts({ timeout: "5" }), limits).options.timeoutSec).toBe(5);
    expect(negotiate(opts({ timeout: "0" }), limits).oack.has("timeout")).toBe(false);
    expect(negotiate(opts({ timeout: "256" }), limits).oack.has("timeout")).toBe(false);
  });

  test("windowsize capped by --windowsize-max and by memory per transfer", () => {
    expect(negotiate(opts({ windowsize: "65535" }), limits).oack.get("windowsize")).toBe("64");
    expect(negotiate(opts({ windowsize: "0" }), limits).oack.has("windowsize")).toBe(false);
    const big = negotiate(opts({ blksize: "65464", windowsize: "64" }), limits);
    expect(big.options.windowSize).toBe(Math.floor((4 << 20) / 65464));
    expect(big.oack.get("windowsize")).toBe(String(big.options.windowSize));
  });

  test("tsize must be a number to be answered", () => {
    expect(negotiate(opts({ tsize: "x" }), limits).wantsTsize).toBe(false);
  });
});
