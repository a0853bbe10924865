/**
 * doctor --dhcp's probe without sockets: the DISCOVER it sends is one our own proxy (and so
 * firmware-shaped) classifies as PXE; answers are read as responders and anything else is
 * dropped, whatever the bytes; and what a set of answers means for the farm.
 */
import { describe, expect, test } from "bun:test";
import { BOOTREPLY, BOOTREQUEST, MSG, OPT, buildDhcp, encodeSubOptions, ipBytes, parseDhcp, type DhcpPacket } from "../../src/dhcp/packet.ts";
import { classify } from "../../src/dhcp/pxe-request.ts";
import { judgeResponders, probeDiscover, readOffer, type ProbeRequest, type Responder } from "../../src/dhcp/probe.ts";

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef);
const REQ: ProbeRequest = { mac: MAC, xid: 0x12345678, arch: "bios" };
const te = new TextEncoder();

function offer(o: Partial<DhcpPacket> & { opts?: [number, Uint8Array][] } = {}): Uint8Array {
  const chaddr = new Uint8Array(16);
  chaddr.set(MAC);
  const options = new Map<number, Uint8Array>([[OPT.MESSAGE_TYPE, Uint8Array.of(MSG.OFFER)], [OPT.SERVER_ID, ipBytes("10.0.0.1")]]);
  for (const [k, v] of o.opts ?? []) options.set(k, v);
  const { opts: _ignored, ...fields } = o;
  return buildDhcp({ op: BOOTREPLY, htype: 1, hlen: 6, hops: 0, xid: REQ.xid, secs: 0, flags: 0x8000, ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr, sname: "", file: "", options, ...fields });
}

describe("the probe's DISCOVER", () => {
  for (const [arch, code, family] of [["bios", 0, "PXEClient"], ["efi64", 7, "PXEClient"], ["arm64", 11, "PXEClient"], ["http", 16, "HTTPClient"]] as const) {
    test(`${arch}: a PXE DISCOVER from the interface's MAC, arch ${code}, ${family}, broadcast flag`, () => {
      const parsed = parseDhcp(probeDiscover({ ...REQ, arch }));
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.packet.op).toBe(BOOTREQUEST);
      expect(parsed.packet.flags & 0x8000).toBe(0x8000);
      const c = classify(parsed.packet, "dhcp");
      if (!c.pxe) throw new Error(c.reason);
      expect(c.request).toMatchObject({ kind: "discover", mac: "52:54:00:ab:cd:ef", arch: code, vendorClass: family, xid: REQ.xid });
    });
  }
});

describe("answers read as responders", () => {
  const cases: [string, Uint8Array, Partial<Responder> | undefined][] = [
    ["a proxy's offer: no address, a file, option 60", offer({ file: "pxelinux.0", siaddr: "10.0.0.1", opts: [[OPT.VENDOR_CLASS, te.encode("PXEClient")]] }), { serverId: "10.0.0.1", bootFile: "pxelinux.0", nextServer: "10.0.0.1", role: "proxy-pxe" }],
    ["a DHCP server with no boot options", offer({ yiaddr: "10.0.0.50" }), { offersAddress: "10.0.0.50", role: "dhcp" }],
    ["a DHCP server with next-server and filename", offer({ yiaddr: "10.0.0.50", siaddr: "10.0.0.9", file: "undionly.kpxe" }), { role: "dhcp+pxe", bootFile: "undionly.kpxe", nextServer: "10.0.0.9" }],
    ["a boot file in option 67 and a server in option 66", offer({ yiaddr: "10.0.0.50", opts: [[OPT.BOOTFILE, te.encode("grubx64.efi\0")], [OPT.TFTP_SERVER, te.encode("10.0.0.7")]] }), { bootFile: "grubx64.efi", nextServer: "10.0.0.7", role: "dhcp+pxe" }],
    ["the 4011 arrangement: an address and option 60 only", offer({ yiaddr: "10.0.0.50", opts: [[OPT.VENDOR_CLASS, te.encode("PXEClient")]] }), { role: "dhcp", vendorClass: "PXEClient" }],
    ["dnsmasq's proxy mode: a PXE menu in option 43, no file", offer({ opts: [[OPT.VENDOR_SPECIFIC, encodeSubOptions([[6, Uint8Array.of(3)], [9, Uint8Array.of(0x80, 0, 1, 0x41)], [10, Uint8Array.of(0, 0x41)]])]] }), { pxeMenu: true, role: "proxy-pxe" }],
    ["no server identifier: the source address stands in", (() => { const p = parseDhcp(offer({ file: "x" })); if (!p.ok) throw new Error(); p.packet.options.delete(OPT.SERVER_ID); return buildDhcp(p.packet); })(), { serverId: "10.0.0.200" }],
    // Everything below is not an answer to this probe.
    ["another transaction's offer", offer({ xid: 99 }), undefined],
    ["an offer for another MAC", offer({ chaddr: new Uint8Array(16).fill(1) }), undefined],
    ["a request (another client's broadcast)", offer({ op: BOOTREQUEST }), undefined],
    ["a NAK", offer({ opts: [[OPT.MESSAGE_TYPE, Uint8Array.of(MSG.NAK)]] }), undefined],
    ["no message type (plain BOOTP)", (() => { const p = parseDhcp(offer()); if (!p.ok) throw new Error(); p.packet.options.delete(OPT.MESSAGE_TYPE); return buildDhcp(p.packet); })(), undefined],
    ["cut short", offer().subarray(0, 200), undefined],
    ["an option running past the end", Uint8Array.from([...offer().subarray(0, 240), OPT.SERVER_ID, 200, 1, 2]), undefined],
    ["empty", new Uint8Array(0), undefined],
    ["random bytes", Uint8Array.from({ length: 600 }, (_, i) => (i * 131 + 7) & 255), undefined],
    ["option 43 whose sub-option lengths run past it", offer({ opts: [[OPT.VENDOR_SPECIFIC, Uint8Array.of(1, 250, 2)]] }), { pxeMenu: false }],
    ["option 43 of PADs only", offer({ opts: [[OPT.VENDOR_SPECIFIC, new Uint8Array(255)]] }), { pxeMenu: false }],
  ];
  for (const [name, bytes, want] of cases)
    test(name, () => {
      const r = readOffer(bytes, "10.0.0.200", REQ);
      if (want === undefined) expect(r).toBeUndefined();
      else expect(r).toMatchObject(want);
    });
});

describe("what the answers mean", () => {
  const proxyHere: Responder = { from: "10.0.0.1", serverId: "10.0.0.1", bootFile: "pxelinux.0", pxeMenu: false, role: "proxy-pxe" };
  const siteDhcp: Responder = { from: "10.0.0.2", serverId: "10.0.0.2", offersAddress: "10.0.0.50", pxeMenu: false, role: "dhcp" };
  const rogue: Responder = { from: "10.0.0.3", serverId: "10.0.0.3", offersAddress: "10.0.0.60", bootFile: "rogue.0", nextServer: "10.0.0.3", pxeMenu: false, role: "dhcp+pxe" };
  const siteWithSnippet: Responder = { ...siteDhcp, bootFile: "pxelinux.0", nextServer: "10.0.0.1", role: "dhcp+pxe" };
  const severities = (rs: Responder[]) => judgeResponders(rs, ["10.0.0.1"]).filter((f) => f.severity !== "ok").map((f) => f.severity);

  test("the site's DHCP and our proxy: nothing to fix, each seen once even when answered twice", () => {
    const f = judgeResponders([siteDhcp, proxyHere, proxyHere], ["10.0.0.1"]);
    expect(f.map((x) => x.severity)).toEqual(["ok", "ok"]);
    expect(f[1]!.message).toContain("this host");
  });
  test("the site's DHCP server sending machines here (init's snippet): fine", () => expect(severities([siteWithSnippet])).toEqual([]));
  test("a second boot server beside ours: a warning naming it", () => {
    const f = judgeResponders([siteDhcp, proxyHere, rogue], ["10.0.0.1"]);
    expect(f.filter((x) => x.severity === "warning").map((x) => x.message).join()).toContain("10.0.0.3 (rogue.0)");
  });
  test("only another boot server: machines go there, not here", () => {
    expect(judgeResponders([rogue], ["10.0.0.1"]).find((x) => x.severity === "warning")!.message).toContain("not to this host");
  });
  test("no DHCP server at all: a problem", () => expect(severities([proxyHere])).toEqual(["problem"]));
  test("nobody answered: no address and no boot file", () => expect(severities([])).toEqual(["problem", "warning"]));
  test("a boot URL pointing here is ours", () => expect(severities([{ ...siteDhcp, bootFile: "http://10.0.0.1:8080/ipxe.efi", role: "dhcp+pxe" }])).toEqual([]));
});
