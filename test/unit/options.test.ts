import { describe, expect, test } from "bun:test";
import { checkOack, negotiate, negotiateWrite, requestOptions, withTsize, type NegotiationLimits, type OptionRequest } from "../../src/protocol/options.ts";

const limits: NegotiationLimits = { blockSizeMax: 65464, windowSizeMax: 64, rollover: 0, windowBytesMax: 4 << 20 };
const opts = (o: Record<string, string>) => new Map(Object.entries(o));

describe("the server answers a request's options (RFC 2347/2348/2349/7440)", () => {
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

  test("tsize is filled in with the real size; nothing else changes", () => {
    const n = negotiate(opts({ tsize: "0", blksize: "512", timeout: "6" }), limits);
    expect([...withTsize(n.oack, 1)]).toEqual([["tsize", "1"], ["blksize", "512"], ["timeout", "6"]]);
    expect(withTsize(negotiate(opts({ blksize: "512" }), limits).oack, 9).has("tsize")).toBe(false);
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

describe("the server answers a write request's options", () => {
  test("tsize is the size of the file coming: echoed as sent, and told to the caller for the cap", () => {
    const n = negotiateWrite(opts({ tsize: "3000000", blksize: "1428", windowsize: "8", timeout: "3" }), limits);
    expect([...n.oack]).toEqual([["tsize", "3000000"], ["blksize", "1428"], ["windowsize", "8"], ["timeout", "3"]]);
    expect(n.tsize).toBe(3000000);
    expect(n.options).toMatchObject({ blockSize: 1428, windowSize: 8, timeoutSec: 3 });
  });

  test("an empty upload's tsize 0 is echoed too; no options, no OACK (ACK 0 answers)", () => {
    expect(negotiateWrite(opts({ tsize: "0" }), limits).oack.get("tsize")).toBe("0");
    expect(negotiateWrite(opts({}), limits).oack.size).toBe(0);
    expect(negotiateWrite(opts({ tsize: "big" }), limits).tsize).toBeUndefined();
  });

  test("the window is capped as for reads: it must fit the server's socket buffer", () => {
    const n = negotiateWrite(opts({ blksize: "65464", windowsize: "64" }), { ...limits, windowBytesMax: 96 * 1024 });
    expect(n.options.windowSize).toBe(1);
  });
});

describe("the client asks for options and holds the OACK to them", () => {
  const asked: OptionRequest = { blockSize: 1468, windowSize: 4, timeoutSec: 2, tsize: true };

  test("the request names only what was asked, in a fixed order", () => {
    expect([...requestOptions(asked)]).toEqual([["blksize", "1468"], ["windowsize", "4"], ["timeout", "2"], ["tsize", "0"]]);
    expect(requestOptions({}).size).toBe(0);
    expect([...requestOptions({ tsize: false, windowSize: 1 })]).toEqual([["windowsize", "1"]]);
  });

  test("an OACK within what was asked is granted; what it leaves out keeps the RFC 1350 value", () => {
    expect(checkOack(opts({ blksize: "1024", tsize: "5000" }), asked)).toEqual({
      blockSize: 1024,
      windowSize: 1,
      tsize: 5000,
      oack: { blksize: "1024", tsize: "5000" },
    });
    expect(checkOack(opts({ windowsize: "4", timeout: "2", blksize: "1468" }), asked)).toMatchObject({ blockSize: 1468, windowSize: 4 });
  });

  test("the server may name the rollover unasked, 0 or 1 only", () => {
    expect(checkOack(opts({ rollover: "1" }), asked)).toMatchObject({ rollover: 1 });
    expect(checkOack(opts({ rollover: "2" }), asked)).toBe("rollover 2 is neither 0 nor 1");
  });

  test.each([
    ["a larger blksize", { blksize: "2048" }, "blksize 2048 outside 8..1468"],
    ["a blksize below 8", { blksize: "7" }, "blksize 7 outside 8..1468"],
    ["a larger windowsize", { windowsize: "5" }, "windowsize 5 outside 1..4"],
    ["windowsize 0", { windowsize: "0" }, "windowsize 0 outside 1..4"],
    ["a changed timeout", { timeout: "3" }, "timeout 3 differs from the requested 2"],
    ["an unknown option", { multicast: "1" }, "option multicast was not requested"],
    ["a hex value", { blksize: "0x10" }, "bad value for blksize: '0x10'"],
    ["an empty value", { tsize: "" }, "bad value for tsize: ''"],
  ] as const)("%s is refused, with the reason for ERROR 8", (_name, oack, reason) => {
    expect(checkOack(opts(oack), asked)).toBe(reason);
  });

  test("an option we did not ask for is refused even when its value is fine", () => {
    expect(checkOack(opts({ tsize: "10" }), { blockSize: 512 })).toBe("option tsize was not requested");
  });
});
