import { describe, expect, test } from "bun:test";
import type { TreeFacts } from "../../src/dhcp/boot-choice.ts";
import { MSG, OPT, parseDhcp } from "../../src/dhcp/packet.ts";
import { answerDatagram, newProxyDhcpCounts, type ProxyContext } from "../../src/dhcp/proxy.ts";
import { StormGuard } from "../../src/dhcp/storm-guard.ts";
import { FIRMWARE, clientBytes } from "./dhcp-client-packets.ts";

const SERVER = "10.0.0.1";
const BROADCAST_FROM = { address: "0.0.0.0", port: 68 };
const tree: TreeFacts = { has: (p) => ["pxelinux.0", "syslinux.efi", "ldlinux.e64", "boot.ipxe"].includes(p), host: () => ({ pending: true, installed: false, profile: "7.2" }) };

function context(): ProxyContext {
  return { tree, policy: { knownOnly: false }, guard: new StormGuard(), counts: newProxyDhcpCounts() };
}

function parsedReply(out: ReturnType<typeof answerDatagram>) {
  if (!out.reply) throw new Error(`no reply: ${JSON.stringify(out.log)}`);
  const r = parseDhcp(out.reply.bytes);
  if (!r.ok) throw new Error(r.reason);
  return r.packet;
}

describe("proxy DHCP answers", () => {
  test("a UEFI DISCOVER: an OFFER with no address, our address, the file, option 43 {6: 8}, 60 and 97 echoed, broadcast", () => {
    const ctx = context();
    const out = answerDatagram(ctx, clientBytes(FIRMWARE.ovmf), BROADCAST_FROM, "dhcp", SERVER, 0);
    const p = parsedReply(out);
    expect(out.reply!.to).toEqual({ address: "255.255.255.255", port: 68, broadcast: true });
    expect(p).toMatchObject({ op: 2, yiaddr: "0.0.0.0", siaddr: SERVER, file: "syslinux.efi", xid: 0x1234abcd, flags: 0x8000 });
    expect([...p.options.get(OPT.MESSAGE_TYPE)!]).toEqual([MSG.OFFER]);
    expect([...p.options.get(OPT.SERVER_ID)!]).toEqual([10, 0, 0, 1]);
    expect(new TextDecoder().decode(p.options.get(OPT.VENDOR_CLASS)!)).toBe("PXEClient");
    expect([...p.options.get(OPT.VENDOR_SPECIFIC)!]).toEqual([6, 1, 8, 255]);
    expect(p.options.get(OPT.CLIENT_UUID)?.length).toBe(17);
    expect(ctx.counts).toMatchObject({ offers: 1, ignored: 0 });
    expect(out.log).toMatchObject({ level: "info", fields: { mac: "52:54:00:12:34:56", arch: 7, file: "syslinux.efi", profile: "7.2" } });
  });

  test("a relayed DISCOVER is answered to the relay's port 67", () => {
    const out = answerDatagram(context(), clientBytes({ ...FIRMWARE.biosPxe, giaddr: "10.9.0.1" }), { address: "10.9.0.1", port: 67 }, "dhcp", SERVER, 0);
    expect(out.reply!.to).toEqual({ address: "10.9.0.1", port: 67, broadcast: false });
    expect(parsedReply(out).giaddr).toBe("10.9.0.1");
  });

  test("a REQUEST on 4011 gets an ACK back to its source port, ciaddr kept", () => {
    const ctx = context();
    const bytes = clientBytes({ ...FIRMWARE.ovmf, type: MSG.REQUEST, ciaddr: "10.0.0.50" });
    const out = answerDatagram(ctx, bytes, { address: "10.0.0.50", port: 4011 }, "binl", SERVER, 0);
    expect(out.reply!.to).toEqual({ address: "10.0.0.50", port: 4011, broadcast: false });
    const p = parsedReply(out);
    expect([...p.options.get(OPT.MESSAGE_TYPE)!]).toEqual([MSG.ACK]);
    expect(p).toMatchObject({ ciaddr: "10.0.0.50", yiaddr: "0.0.0.0", file: "syslinux.efi" });
    expect(ctx.counts.acks).toBe(1);
  });

  test("a copy of one request within the window is answered once; a retry after it again", () => {
    const ctx = context();
    const bytes = clientBytes(FIRMWARE.biosPxe);
    expect(answerDatagram(ctx, bytes, BROADCAST_FROM, "dhcp", SERVER, 0).reply).toBeDefined();
    expect(answerDatagram(ctx, bytes, BROADCAST_FROM, "dhcp", SERVER, 5).reply).toBeUndefined();
    expect(ctx.counts.duplicates).toBe(1);
    expect(answerDatagram(ctx, bytes, BROADCAST_FROM, "dhcp", SERVER, 4000).reply).toBeDefined();
  });

  test("one MAC asking with ever new xids is held to its rate", () => {
    const ctx = context();
    let answered = 0;
    for (let i = 0; i < 100; i++) if (answerDatagram(ctx, clientBytes({ ...FIRMWARE.biosPxe, xid: i }), BROADCAST_FROM, "dhcp", SERVER, i).reply) answered++;
    expect(answered).toBe(8);
    expect(ctx.counts.limited).toBe(92);
  });

  test("one info line per host per boot: the 4011 request after the offer logs at debug", () => {
    const ctx = context();
    expect(answerDatagram(ctx, clientBytes(FIRMWARE.ovmf), BROADCAST_FROM, "dhcp", SERVER, 0).log?.level).toBe("info");
    const req = clientBytes({ ...FIRMWARE.ovmf, type: MSG.REQUEST, ciaddr: "10.0.0.50" });
    expect(answerDatagram(ctx, req, { address: "10.0.0.50", port: 68 }, "binl", SERVER, 1000).log?.level).toBe("debug");
    expect(answerDatagram(ctx, clientBytes({ ...FIRMWARE.ovmf, xid: 9 }), BROADCAST_FROM, "dhcp", SERVER, 120_000).log?.level).toBe("info");
  });

  test("not DHCP, not PXE, or an installed host: no reply, counted", () => {
    const ctx = context();
    expect(answerDatagram(ctx, new Uint8Array(10), BROADCAST_FROM, "dhcp", SERVER, 0).reply).toBeUndefined();
    expect(answerDatagram(ctx, clientBytes({ vendorClass: "" }), BROADCAST_FROM, "dhcp", SERVER, 0).reply).toBeUndefined();
    const installed: ProxyContext = { ...context(), tree: { ...tree, host: () => ({ pending: false, installed: true }) } };
    const out = answerDatagram(installed, clientBytes(FIRMWARE.biosPxe), BROADCAST_FROM, "dhcp", SERVER, 0);
    expect(out.reply).toBeUndefined();
    expect(out.log).toMatchObject({ level: "info", message: "proxy DHCP: no netboot offer" });
    expect(ctx.counts).toMatchObject({ malformed: 1, ignored: 1, offers: 0 });
    expect(installed.counts.ignored).toBe(1);
  });
});
