import { describe, expect, test } from "bun:test";
import { MSG, OPT, parseDhcp, type DhcpPacket } from "../../src/dhcp/packet.ts";
import { classify, type Classified } from "../../src/dhcp/pxe-request.ts";
import { FIRMWARE, clientPacket, macBytes, type ClientShape } from "./dhcp-client-packets.ts";

const te = new TextEncoder();

function classifyShape(s: ClientShape, port: "dhcp" | "binl" = "dhcp", edit?: (p: DhcpPacket) => void): Classified {
  const p = clientPacket(s);
  edit?.(p);
  return classify(p, port);
}

function request(c: Classified) {
  if (!c.pxe) throw new Error(c.reason);
  return c.request;
}

describe("which DHCP messages are PXE requests", () => {
  test.each([
    ["SeaBIOS + iPXE ROM", FIRMWARE.seabiosIpxe, { arch: 0, ipxe: true, vendorClass: "PXEClient" }],
    ["BIOS PXE ROM", FIRMWARE.biosPxe, { arch: 0, ipxe: false, vendorClass: "PXEClient" }],
    ["OVMF x64", FIRMWARE.ovmf, { arch: 7, ipxe: false, vendorClass: "PXEClient" }],
    ["OVMF HTTP Boot", FIRMWARE.ovmfHttp, { arch: 16, ipxe: false, vendorClass: "HTTPClient" }],
    ["arm64 UEFI", FIRMWARE.arm64, { arch: 11, ipxe: false, vendorClass: "PXEClient" }],
  ] as const)("%s", (_name, shape, want) => {
    expect(request(classifyShape(shape))).toMatchObject({ kind: "discover", mac: "52:54:00:12:34:56", ...want });
  });

  test("option 93 missing: the arch comes from option 60, else BIOS is assumed", () => {
    expect(request(classifyShape({ vendorClass: "PXEClient:Arch:00009:UNDI:003016" }))).toMatchObject({ arch: 9, archFrom: "option 60" });
    expect(request(classifyShape({ vendorClass: "PXEClient" }))).toMatchObject({ arch: 0, archFrom: "assumed" });
    expect(request(classifyShape({ vendorClass: "HW-Client" }))).toMatchObject({ arch: 0, vendorClass: "PXEClient" });
  });

  test("iPXE by option 175 alone, or by an RFC 3004 user class", () => {
    expect(request(classifyShape({ ipxe175: true })).ipxe).toBe(true);
    expect(request(classifyShape({ userClass: "\x04iPXE" })).ipxe).toBe(true);
    expect(request(classifyShape({ userClass: "gPXE-ish" })).ipxe).toBe(false);
  });

  test("the client UUID (option 97) is kept only when it has the PXE shape (type + 16 bytes)", () => {
    expect(request(classifyShape({ uuid: true })).uuid?.length).toBe(17);
    expect(request(classifyShape({ extra: [[OPT.CLIENT_UUID, Uint8Array.of(0, 1, 2)]] })).uuid).toBeUndefined();
  });

  test.each([
    ["no vendor class (an ordinary DHCP client)", { vendorClass: "" }, "no vendor class"],
    ["a Windows client", { vendorClass: "MSFT 5.0" }, "not a PXE client"],
    ["a REQUEST on 67 (the client taking the site's address)", { ...FIRMWARE.ovmf, type: MSG.REQUEST }, "not ours"],
    ["a DISCOVER on 4011", FIRMWARE.ovmf, "not ours", "binl"],
    ["a RELEASE", { type: MSG.RELEASE }, "not ours"],
  ] as [string, ClientShape, string, ("dhcp" | "binl")?][])("ignored: %s", (...row) => {
    const [, shape, reason, port] = row;
    const c = classifyShape(shape, port ?? "dhcp");
    expect(c.pxe).toBe(false);
    if (!c.pxe) expect(c.reason).toContain(reason);
  });

  test("a REQUEST on 4011 is a boot server request", () => {
    expect(request(classifyShape({ ...FIRMWARE.ovmf, type: MSG.REQUEST, ciaddr: "10.0.0.50" }, "binl"))).toMatchObject({ kind: "request", ciaddr: "10.0.0.50" });
  });

  test.each([
    ["a reply (op 2)", (p: DhcpPacket) => void (p.op = 2)],
    ["htype 6 (token ring)", (p: DhcpPacket) => void (p.htype = 6)],
    ["hlen 16", (p: DhcpPacket) => void (p.hlen = 16)],
    ["an all-zero MAC", (p: DhcpPacket) => void (p.chaddr = macBytes("00:00:00:00:00:00"))],
    ["a broadcast MAC", (p: DhcpPacket) => void (p.chaddr = macBytes("ff:ff:ff:ff:ff:ff"))],
    ["a multicast MAC", (p: DhcpPacket) => void (p.chaddr = macBytes("01:00:5e:00:00:01"))],
    ["no message type", (p: DhcpPacket) => void p.options.delete(OPT.MESSAGE_TYPE)],
    ["a message type of two bytes", (p: DhcpPacket) => void p.options.set(OPT.MESSAGE_TYPE, Uint8Array.of(1, 1))],
  ])("ignored: %s", (_n, edit) => {
    expect(classifyShape(FIRMWARE.ovmf, "dhcp", edit).pxe).toBe(false);
  });

  test("client text in reasons is cut short and made printable", () => {
    const c = classifyShape({ vendorClass: "evil\n\x1b[31m" + "x".repeat(300) });
    expect(c.pxe).toBe(false);
    if (!c.pxe) {
      expect(c.reason).not.toContain("\n");
      expect(c.reason.length).toBeLessThan(120);
    }
  });

  test("a parsed overloaded DISCOVER classifies like a plain one", () => {
    const bytes = new Uint8Array(300);
    bytes.set([1, 1, 6, 0], 0);
    bytes.set(macBytes("52:54:00:aa:bb:cc").subarray(0, 6), 28);
    bytes.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 52, 1, 1, 255], 236);
    bytes.set([60, 20, ...te.encode("PXEClient:Arch:00007"), 93, 2, 0, 7, 255], 108);
    const r = parseDhcp(bytes);
    if (!r.ok) throw new Error(r.reason);
    expect(request(classify(r.packet, "dhcp"))).toMatchObject({ arch: 7, mac: "52:54:00:aa:bb:cc" });
  });
});
