import { describe, expect, test } from "bun:test";
import { MIN_DHCP_BYTES, MIN_REPLY_BYTES, OPT, buildDhcp, encodeSubOptions, parseDhcp } from "../../src/dhcp/packet.ts";
import { clientBytes, clientPacket } from "./dhcp-client-packets.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A request's bytes with the options area replaced by `opts` (raw, END not added). */
function withOptions(opts: number[], fileField?: number[], snameField?: number[]): Uint8Array {
  const base = clientBytes();
  const out = new Uint8Array(MIN_DHCP_BYTES + opts.length);
  out.set(base.subarray(0, MIN_DHCP_BYTES));
  out.set(opts, MIN_DHCP_BYTES);
  if (fileField) out.set(fileField, 108);
  if (snameField) out.set(snameField, 44);
  return out;
}

describe("DHCP packet parse", () => {
  test("round-trips what build wrote: header fields, options, padded to the BOOTP minimum", () => {
    const p = clientPacket({ arch: 7, vendorClass: "PXEClient:Arch:00007", giaddr: "10.1.2.3", xid: 0xdeadbeef });
    const bytes = buildDhcp(p);
    expect(bytes.length).toBe(MIN_REPLY_BYTES);
    const r = parseDhcp(bytes);
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.xid).toBe(0xdeadbeef);
    expect(r.packet.giaddr).toBe("10.1.2.3");
    expect(r.packet.flags).toBe(0x8000);
    expect([...r.packet.options.get(OPT.CLIENT_ARCH)!]).toEqual([0, 7]);
    expect(td.decode(r.packet.options.get(OPT.VENDOR_CLASS)!)).toBe("PXEClient:Arch:00007");
  });

  test("a header cut short, or without the magic cookie, is not DHCP", () => {
    const full = clientBytes();
    for (const n of [0, 1, 100, 235, 236, 239]) expect(parseDhcp(full.subarray(0, n)).ok).toBe(false);
    const bootp = full.slice();
    bootp[236] = 0;
    expect(parseDhcp(bootp)).toEqual({ ok: false, reason: "no DHCP magic cookie (plain BOOTP)" });
  });

  test("an option whose length runs past the end is refused, not read short", () => {
    const r = parseDhcp(withOptions([53, 1, 1, 60, 20, 0x50, 0x58]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain("option 60");
    expect(parseDhcp(withOptions([53, 1, 1, 60])).ok).toBe(false);
  });

  test("PAD runs are skipped, END stops the walk, a missing END is tolerated", () => {
    const r = parseDhcp(withOptions([0, 0, 0, 53, 1, 1, 0, 255, 60, 200]));
    if (!r.ok) throw new Error(r.reason);
    expect([...r.packet.options.keys()]).toEqual([53]);
    const noEnd = parseDhcp(withOptions([53, 1, 1]));
    expect(noEnd.ok).toBe(true);
    const allPad = parseDhcp(withOptions(new Array(5000).fill(0)));
    expect(allPad.ok && allPad.packet.options.size).toBe(0);
  });

  test("repeated instances of one option are joined (RFC 3396)", () => {
    const r = parseDhcp(withOptions([60, 3, 0x50, 0x58, 0x45, 60, 6, ...te.encode("Client"), 255]));
    if (!r.ok) throw new Error(r.reason);
    expect(td.decode(r.packet.options.get(60)!)).toBe("PXEClient");
  });

  test("option 52 overload: options in the file field, then the sname field, and the fields read as empty", () => {
    const r = parseDhcp(withOptions([53, 1, 1, 52, 1, 3, 255], [60, 9, ...te.encode("PXEClient"), 255], [93, 2, 0, 7, 255]));
    if (!r.ok) throw new Error(r.reason);
    expect(td.decode(r.packet.options.get(60)!)).toBe("PXEClient");
    expect([...r.packet.options.get(93)!]).toEqual([0, 7]);
    expect(r.packet.file).toBe("");
    expect(r.packet.sname).toBe("");
  });

  test("option 52 only for the file field leaves sname as text; a bad overload value is refused", () => {
    const r = parseDhcp(withOptions([53, 1, 1, 52, 1, 1, 255], [93, 2, 0, 0, 255], [...te.encode("boothost"), 0]));
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.sname).toBe("boothost");
    expect(r.packet.options.has(93)).toBe(true);
    expect(parseDhcp(withOptions([53, 1, 1, 52, 1, 4, 255])).ok).toBe(false);
    expect(parseDhcp(withOptions([53, 1, 1, 52, 2, 1, 1, 255])).ok).toBe(false);
  });

  test("an option in an overloaded field that runs past the field is refused", () => {
    const file = new Array(128).fill(0);
    file[126] = 60;
    file[127] = 9;
    expect(parseDhcp(withOptions([53, 1, 1, 52, 1, 1, 255], file)).ok).toBe(false);
  });

  test("a 52 inside an overloaded field does not overload again", () => {
    const r = parseDhcp(withOptions([53, 1, 1, 52, 1, 1, 255], [52, 1, 2, 255], [93, 2, 0, 7, 255]));
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.options.has(93)).toBe(false);
    expect(r.packet.sname).not.toBe("");
  });
});

describe("DHCP packet build", () => {
  test("a value past 255 bytes is split into instances that parse back joined", () => {
    const p = clientPacket();
    const big = new Uint8Array(600).map((_, i) => i & 0xff);
    p.options.set(OPT.VENDOR_SPECIFIC, big);
    const r = parseDhcp(buildDhcp(p));
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.options.get(OPT.VENDOR_SPECIFIC)).toEqual(big);
  });

  test("a file name too long for its field is an error, not a truncation", () => {
    expect(() => buildDhcp({ ...clientPacket(), file: "x".repeat(128) })).toThrow("file longer");
  });

  test("sub-options end with END", () => {
    expect([...encodeSubOptions([[6, Uint8Array.of(8)]])]).toEqual([6, 1, 8, 255]);
  });
});
