/**
 * serve --proxy-dhcp end to end, as root: the server on one end of a veth pair, PXE "clients"
 * (datagrams as firmware sends them) in a network namespace this test creates and removes.
 * It answers PXE requests once each, with no address; it answers nothing else, whatever the
 * packet; install-once and --proxy-dhcp-known-only hold; a held port 67 fails the start in one line.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSG, OPT, buildDhcp, parseDhcp, type DhcpPacket } from "../../src/dhcp/packet.ts";
import { FIRMWARE, clientPacket, macBytes, type ClientShape } from "../unit/dhcp-client-packets.ts";
import { describeNeeding, testNeeding } from "../gate.ts";
import { BINARY, run, scratchRoot, startServer, type ServerProcess } from "./harness.ts";
import type { PeerPlan, PeerReply } from "./dhcp-peer.ts";

const isRoot = process.getuid?.() === 0;
const DNSMASQ = { present: Bun.which("dnsmasq", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) !== null, what: "dnsmasq (Debian dnsmasq-base)" };
const tag = `pxd${process.pid % 100000}`;
const ns = `${tag}ns`;
const hostIf = `${tag}h`;
const nsIf = `${tag}n`;
const subnet = `10.${130 + (process.pid % 50)}.${process.pid % 250}`;
const hostAddr = `${subnet}.1`;
const clientAddr = `${subnet}.2`;
const PEER = resolve(import.meta.dir, "dhcp-peer.ts");
const KNOWN = "52:54:00:aa:00:01";
const UNKNOWN = "52:54:00:bb:00:02";

async function sh(...cmd: string[]): Promise<string> {
  const r = await run(cmd, 20_000);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Sends `packets` from the namespace and returns every reply that came back. */
async function exchange(packets: { bytes: Uint8Array; to?: string; port?: number }[], waitMs = 400, gapMs = 0): Promise<PeerReply[]> {
  const plan: PeerPlan = {
    sends: packets.map((p) => ({ hex: Buffer.from(p.bytes).toString("hex"), to: p.to ?? "255.255.255.255", port: p.port ?? 67 })),
    gapMs,
    waitMs,
  };
  const proc = Bun.spawn(["ip", "netns", "exec", ns, process.execPath, PEER, nsIf], { stdin: new TextEncoder().encode(JSON.stringify(plan)), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  if ((await proc.exited) !== 0) throw new Error(`dhcp-peer failed: ${err}`);
  return JSON.parse(out) as PeerReply[];
}

function parsed(r: PeerReply): DhcpPacket {
  const p = parseDhcp(Buffer.from(r.hex, "hex"));
  if (!p.ok) throw new Error(p.reason);
  return p.packet;
}

const discover = (s: ClientShape) => ({ bytes: buildDhcp(clientPacket(s)) });

describeNeeding({ present: isRoot, what: "root (it makes a veth pair in a network namespace)" }, "serve --proxy-dhcp (veth pair, network namespace)", () => {
  const { root, cleanup } = scratchRoot("proxy-dhcp");
  let server: ServerProcess | undefined;
  let nsMac = "";

  const start = async (...extra: string[]) => {
    await server?.stop();
    server = await startServer(root, ["--log-format", "json", "--http", `${hostAddr}:0`, "--proxy-dhcp", hostIf, ...extra], hostAddr);
    await server.waitForLog(/proxy DHCP serving/);
  };

  beforeAll(async () => {
    for (const f of ["pxelinux.0", "syslinux.efi", "ldlinux.e64", "ipxe.efi", "Kickstart_end"]) writeFileSync(join(root, f), `${f}\n`);
    writeFileSync(join(root, "boot.ipxe"), "#!ipxe\n");
    mkdirSync(join(root, "pxelinux.cfg"), { recursive: true });
    writeFileSync(join(root, "pxelinux.cfg/default"), "DEFAULT local\n");
    writeFileSync(join(root, "pxelinux.cfg/default.netboot-7.2"), "DEFAULT install\n");
    await sh("ip", "netns", "add", ns);
    await sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await sh("ip", "link", "set", nsIf, "netns", ns);
    await sh("ip", "addr", "add", `${hostAddr}/24`, "dev", hostIf);
    await sh("ip", "link", "set", hostIf, "up");
    await sh("ip", "netns", "exec", ns, "ip", "addr", "add", `${clientAddr}/24`, "dev", nsIf);
    await sh("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up");
    await sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    nsMac = (await sh("ip", "netns", "exec", ns, "cat", `/sys/class/net/${nsIf}/address`)).trim();
    await sh(BINARY, "host", "add", KNOWN, "7.2", "--root", root);
    await sh(BINARY, "host", "add", nsMac, "7.2", "--root", root);
    await start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await run(["ip", "link", "del", hostIf]);
    await run(["ip", "netns", "del", ns]);
    cleanup();
  });

  test("a BIOS DISCOVER from a host `host add` named: one broadcast OFFER with no address, and one log line", async () => {
    const replies = await exchange([discover({ ...FIRMWARE.biosPxe, mac: KNOWN, xid: 101 })]);
    expect(replies.length).toBe(1);
    const p = parsed(replies[0]!);
    expect(p).toMatchObject({ op: 2, xid: 101, yiaddr: "0.0.0.0", siaddr: hostAddr, file: "pxelinux.0" });
    expect([...p.options.get(OPT.MESSAGE_TYPE)!]).toEqual([MSG.OFFER]);
    expect([...p.options.get(OPT.SERVER_ID)!].join(".")).toBe(hostAddr);
    const lines = server!.log().split("\n").filter((l) => l.includes("proxy DHCP: boot offer") && l.includes(KNOWN));
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ mac: KNOWN, arch: 0, profile: "7.2", file: "pxelinux.0" });
  }, 30_000);

  test("UEFI: syslinux.efi with option 43 {6: 8}; the REQUEST to 4011 gets an ACK back to its port", async () => {
    const [offer] = await exchange([discover({ ...FIRMWARE.ovmf, mac: KNOWN, xid: 202 })]);
    expect(parsed(offer!).file).toBe("syslinux.efi");
    expect([...parsed(offer!).options.get(OPT.VENDOR_SPECIFIC)!]).toEqual([6, 1, 8, 255]);
    const ack = await exchange([{ bytes: buildDhcp(clientPacket({ ...FIRMWARE.ovmf, mac: KNOWN, xid: 203, type: MSG.REQUEST, ciaddr: clientAddr })), to: hostAddr, port: 4011 }]);
    expect(ack.length).toBe(1);
    expect(ack[0]!.port).toBe(4011);
    expect([...parsed(ack[0]!).options.get(OPT.MESSAGE_TYPE)!]).toEqual([MSG.ACK]);
    expect(parsed(ack[0]!)).toMatchObject({ ciaddr: clientAddr, yiaddr: "0.0.0.0", file: "syslinux.efi" });
  }, 30_000);

  test("iPXE (user class iPXE) gets boot.ipxe, over --http", async () => {
    const [r] = await exchange([discover({ ...FIRMWARE.seabiosIpxe, mac: KNOWN, xid: 303 })]);
    expect(parsed(r!).file).toMatch(new RegExp(`^http://${hostAddr.replace(/\./g, "\\.")}:\\d+/boot\\.ipxe$`));
  }, 30_000);

  test("UEFI HTTP Boot: the HTTPClient DISCOVER gets a URL on --http, option 60 HTTPClient back, no option 43", async () => {
    const [r] = await exchange([discover({ ...FIRMWARE.ovmfHttp, mac: KNOWN, xid: 304 })]);
    const p = parsed(r!);
    const url = p.file;
    expect(url).toMatch(/^http:\/\/.*\/ipxe\.efi$/);
    expect(new TextDecoder().decode(p.options.get(OPT.VENDOR_CLASS)!)).toBe("HTTPClient");
    expect(p.options.has(OPT.VENDOR_SPECIFIC)).toBe(false);
    expect((await fetch(url)).status).toBe(200);
  }, 30_000);

  /** Raw bytes from a valid PXE DISCOVER, bent out of shape. */
  const valid = () => buildDhcp(clientPacket({ ...FIRMWARE.ovmf, mac: UNKNOWN, xid: 0x7777 }));
  const edit = (f: (b: Uint8Array) => Uint8Array | void) => () => {
    const b = valid();
    return f(b) ?? b;
  };
  const optionsArea = (opts: number[]) => () => {
    const b = valid();
    const out = new Uint8Array(240 + opts.length);
    out.set(b.subarray(0, 240));
    out.set(opts, 240);
    return out;
  };
  const pxeOpts = [53, 1, 1, 60, 9, ...new TextEncoder().encode("PXEClient")];
  const HOSTILE: [string, () => Uint8Array][] = [
    ["empty datagram", () => new Uint8Array(0)],
    ["one byte", () => Uint8Array.of(1)],
    ["header cut at 100 bytes", () => valid().subarray(0, 100)],
    ["header cut before the cookie", () => valid().subarray(0, 238)],
    ["no magic cookie", edit((b) => void b.fill(0, 236, 240))],
    ["option length past the end", optionsArea([...pxeOpts, 93, 200, 0, 7])],
    ["length byte missing at the end", optionsArea([...pxeOpts, 93])],
    ["overload 52 with options running past the file field", () => {
      const b = optionsArea([...pxeOpts, 52, 1, 1, 255])();
      b[108 + 126] = 93;
      b[108 + 127] = 50;
      return b;
    }],
    ["overload 52 with a bad value", optionsArea([...pxeOpts, 52, 1, 9, 255])],
    ["huge option 43 (a 60 KB packet of 43s)", optionsArea([53, 1, 1, ...Array.from({ length: 235 }, () => [43, 255, ...new Array(255).fill(0x41)]).flat(), 255])],
    ["a loop of PAD with no END", optionsArea(new Array(1200).fill(0))],
    ["END, END, END", optionsArea(new Array(300).fill(255))],
    ["a reply (op 2)", edit((b) => void (b[0] = 2))],
    ["htype 6", edit((b) => void (b[1] = 6))],
    ["hlen 0", edit((b) => void (b[2] = 0))],
    ["hlen 255", edit((b) => void (b[2] = 255))],
    ["all-zero MAC", edit((b) => void b.fill(0, 28, 34))],
    ["broadcast MAC", edit((b) => void b.fill(0xff, 28, 34))],
    ["no vendor class (a plain DHCP client)", () => buildDhcp(clientPacket({ mac: UNKNOWN, vendorClass: "" }))],
    ["vendor class MSFT 5.0", () => buildDhcp(clientPacket({ mac: UNKNOWN, vendorClass: "MSFT 5.0" }))],
    ["a REQUEST on 67", () => buildDhcp(clientPacket({ ...FIRMWARE.ovmf, mac: UNKNOWN, type: MSG.REQUEST }))],
    ["a DECLINE", () => buildDhcp(clientPacket({ ...FIRMWARE.ovmf, mac: UNKNOWN, type: MSG.DECLINE }))],
    ["an unknown architecture", () => buildDhcp(clientPacket({ vendorClass: "PXEClient:Arch:00042", arch: 42, mac: UNKNOWN }))],
  ];

  test("hostile packets: none answered, the server keeps running and then answers a good one exactly once", async () => {
    const before = server!.log().length;
    const replies = await exchange(HOSTILE.map(([, make]) => ({ bytes: make() })), 600, 2);
    expect(replies).toEqual([]);
    expect(server!.proc.exitCode).toBeNull();
    const after = await exchange([discover({ ...FIRMWARE.ovmf, mac: UNKNOWN, xid: 0x8888 })]);
    expect(after.length).toBe(1);
    expect(server!.log().slice(before)).not.toMatch(/uncaught|TypeError|RangeError|panic/i);
  }, 60_000);

  test("broadcast floods: non-PXE DHCP gets nothing; copies of one request one reply; one MAC is held to its rate", async () => {
    const plain = Array.from({ length: 2000 }, (_, i) => discover({ mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`, vendorClass: "", xid: i }));
    expect(await exchange(plain, 800)).toEqual([]);
    const copies = Array.from({ length: 300 }, () => discover({ ...FIRMWARE.biosPxe, mac: "52:54:00:cc:00:03", xid: 4242 }));
    expect((await exchange(copies, 600)).length).toBe(1);
    const newXids = Array.from({ length: 300 }, (_, i) => discover({ ...FIRMWARE.biosPxe, mac: "52:54:00:cc:00:04", xid: 10_000 + i }));
    const r = await exchange(newXids, 600);
    expect(r.length).toBeGreaterThan(0);
    expect(r.length).toBeLessThanOrEqual(10);
    expect(new Set(r.map((x) => parsed(x).xid)).size).toBe(r.length);
  }, 60_000);

  test("install-once: after the host fetched the marker, its next DISCOVER gets no offer", async () => {
    const first = await exchange([discover({ ...FIRMWARE.biosPxe, mac: nsMac, xid: 501 })]);
    expect(first.length).toBe(1);
    const got = await run(["ip", "netns", "exec", ns, BINARY, "get", `tftp://${hostAddr}:${server!.port}/Kickstart_end`, "-o", "/dev/null"], 20_000);
    expect(got.code).toBe(0);
    await server!.waitForLog(/installed: netboot entries removed/);
    const second = await exchange([discover({ ...FIRMWARE.biosPxe, mac: nsMac, xid: 502 })]);
    expect(second).toEqual([]);
    expect(server!.log()).toMatch(/no netboot offer.*installed|installed.*no netboot offer/);
  }, 60_000);

  test("--proxy-dhcp-known-only: an unknown MAC gets no offer while a known one does", async () => {
    await start("--proxy-dhcp-known-only");
    expect(await exchange([discover({ ...FIRMWARE.biosPxe, mac: "52:54:00:dd:00:05", xid: 601 })])).toEqual([]);
    expect((await exchange([discover({ ...FIRMWARE.biosPxe, mac: KNOWN, xid: 602 })])).length).toBe(1);
  }, 60_000);

  testNeeding(DNSMASQ, "beside dnsmasq's default (wildcard) bind the start fails naming dnsmasq; beside dnsmasq --bind-interfaces it binds", async () => {
    const dnsmasq = (extra: string[]) =>
      Bun.spawn(["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", `--interface=${nsIf}`, `--dhcp-range=${subnet}.100,${subnet}.200,1h`, "--dhcp-leasefile=/dev/null", "--pid-file=", ...extra], { stdout: "ignore", stderr: "pipe" });
    const bound = async () => {
      for (let i = 0; i < 50; i++) {
        if ((await run(["ip", "netns", "exec", ns, "ss", "-Hlun", "sport = :67"])).stdout.trim()) return;
        await Bun.sleep(100);
      }
      throw new Error("dnsmasq did not bind 67");
    };
    const serve = () => run(["ip", "netns", "exec", ns, "timeout", "-s", "TERM", "3", BINARY, "serve", root, "--port", "1069", "--address", clientAddr, "--proxy-dhcp", nsIf], 20_000);
    const wildcard = dnsmasq([]);
    try {
      await bound();
      const r = await serve();
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(r.stderr).toContain("UDP port 67");
      expect(r.stderr).toContain("dnsmasq");
      expect(r.stderr).toContain("--bind-interfaces");
    } finally {
      wildcard.kill();
      await wildcard.exited;
    }
    const perInterface = dnsmasq(["--bind-interfaces"]);
    try {
      await bound();
      const r = await serve();
      // Ran until timeout stopped it: it bound beside dnsmasq and served.
      expect(r.stdout + r.stderr).toContain("proxy DHCP serving");
    } finally {
      perInterface.kill();
      await perInterface.exited;
    }
  }, 60_000);

  testNeeding(DNSMASQ, "doctor --dhcp on the boot host: sees our proxy and the site's DHCP server; a second boot server on the segment is a warning naming it", async () => {
    await start();
    // The site's DHCP server in the clients' namespace, as on another host of the segment.
    const site = (extra: string[]) =>
      Bun.spawn(["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", "--no-ping", `--interface=${nsIf}`, "--bind-interfaces", `--dhcp-range=${subnet}.100,${subnet}.200,1h`, "--dhcp-leasefile=/dev/null", "--pid-file=", ...extra], { stdout: "ignore", stderr: "pipe" });
    const doctor = () => run([BINARY, "doctor", root, "--dhcp", hostIf, "--dhcp-wait", "2"], 20_000);
    const plain = site([]);
    try {
      await Bun.sleep(500);
      const r = await doctor();
      expect(r.stdout).toContain(`seen: dhcp on ${hostIf} (${hostAddr}): ${hostAddr}, this host: proxyDHCP (PXE boot only, no address), boot file pxelinux.0`);
      expect(r.stdout).toMatch(new RegExp(`seen: .*${clientAddr.replace(/\./g, "\\.")}: DHCP server, no boot file, offers ${subnet.replace(/\./g, "\\.")}\\.1\\d\\d`));
      // (The scratch tree has problems of its own; the segment has none.)
      expect(r.stdout).not.toMatch(/(warning|problem): dhcp/);
    } finally {
      plain.kill();
      await plain.exited;
    }
    const rogue = site(["--dhcp-boot=rogue.0"]);
    try {
      await Bun.sleep(500);
      const r = await doctor();
      expect(r.stdout).toContain("DHCP server with PXE boot options");
      expect(r.stdout).toContain(`warning: dhcp on ${hostIf} (${hostAddr}): another PXE boot server answers on this segment: ${clientAddr} (rogue.0)`);
    } finally {
      rogue.kill();
      await rogue.exited;
    }
  }, 60_000);

  test("port 67 held by a server that does not share it: the start fails in one line naming the port, the holder and the 4011-only way", async () => {
    // A plain socket on 0.0.0.0:67 with no SO_REUSEPORT, as ISC dhcpd holds it.
    const script = 'await Bun.udpSocket({ hostname: "0.0.0.0", port: 67 }); console.log("bound"); await Bun.sleep(30000);';
    const holder = Bun.spawn(["ip", "netns", "exec", ns, process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      await reader.read();
      const r = await run(["ip", "netns", "exec", ns, BINARY, "serve", root, "--port", "1069", "--address", clientAddr, "--proxy-dhcp", nsIf], 20_000);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain("UDP port 67");
      expect(lines[0]).toContain(`(pid ${holder.pid}, on 0.0.0.0)`);
      expect(lines[0]).toContain("--proxy-dhcp-4011-only");
    } finally {
      holder.kill();
      await holder.exited;
    }
  }, 30_000);
});
