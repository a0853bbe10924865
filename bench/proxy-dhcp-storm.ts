/**
 * A boot storm against a proxy DHCP: N PXE DHCPDISCOVERs from N distinct MACs, sent back to back
 * as a rack powering on sends them, answered by `pxeboot serve --proxy-dhcp` or by dnsmasq in
 * proxy mode (`dhcp-range=…,proxy` with a pxe-service). Each server runs alone in a network
 * namespace at one end of a veth pair; the clients send from another namespace, so the answers
 * cross a real (virtual) link as broadcasts. Every answer's latency is its arrival minus its
 * DISCOVER's send time.
 *
 *   sudo bun bench/proxy-dhcp-storm.ts [--clients 1000] [--rounds 3] [--servers pxeboot,dnsmasq]
 *
 * Needs root, iproute2 and dnsmasq, and dist/pxeboot (bun run build.ts). Prints a Markdown table.
 */
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildDhcp, BOOTREQUEST, MSG, OPT } from "../src/dhcp/packet.ts";
import { setReceiveBuffer, setSocketOption, socketFd } from "../src/server/io/sockopt.ts";

interface ClientResult {
  sent: number;
  answered: number;
  sendMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};

/** `i` numbers the client: its MAC and its xid (both distinct across the warm-up and the storm). */
function discover(i: number): Uint8Array {
  const chaddr = new Uint8Array(16);
  chaddr.set([0x02, 0x00, 0x5e, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
  const options = new Map<number, Uint8Array>([
    [OPT.MESSAGE_TYPE, Uint8Array.of(MSG.DISCOVER)],
    [OPT.PARAMETER_LIST, Uint8Array.of(1, 3, 43, 60, 66, 67)],
    [OPT.CLIENT_ARCH, Uint8Array.of(0, 0)],
    [OPT.CLIENT_NDI, Uint8Array.of(1, 2, 1)],
    [OPT.CLIENT_UUID, Uint8Array.of(0, ...chaddr.subarray(0, 6), ...new Array(10).fill(7))],
    [OPT.VENDOR_CLASS, new TextEncoder().encode("PXEClient:Arch:00000:UNDI:002001")],
  ]);
  return buildDhcp({ op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: i + 1, secs: 0, flags: 0x8000, ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr, sname: "", file: "", options });
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** The client side, run inside the clients' namespace: sends the storm, times the answers. */
async function runClients(iface: string, n: number, waitMs: number, firstClient: number): Promise<ClientResult> {
  const packets = Array.from({ length: n }, (_, i) => discover(firstClient + i));
  const sentAt = new Float64Array(n);
  const latency: number[] = [];
  const seen = new Uint8Array(n);
  let lastArrival = performance.now();
  const sock = await Bun.udpSocket({
    hostname: "0.0.0.0",
    port: 68,
    binaryType: "uint8array",
    socket: {
      data(_s, d) {
        if (d.length < 240 || d[0] !== 2) return;
        const xid = new DataView(d.buffer, d.byteOffset).getUint32(4) - 1 - firstClient;
        if (xid < 0 || xid >= n || seen[xid]) return;
        seen[xid] = 1;
        lastArrival = performance.now();
        latency.push(lastArrival - sentAt[xid]!);
      },
      error() {},
    },
  });
  const name = new TextEncoder().encode(`${iface}\0`);
  setSocketOption(socketFd(sock), 1, 25, new DataView(name.buffer));
  setReceiveBuffer(socketFd(sock), 8 * 1024 * 1024);
  sock.setBroadcast(true);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    sentAt[i] = performance.now();
    // A full send buffer: wait a tick and try again (the storm is as fast as the link takes it).
    while (!sock.send(packets[i]!, 67, "255.255.255.255")) {
      await Bun.sleep(0);
      sentAt[i] = performance.now();
    }
  }
  const sendMs = performance.now() - start;
  const deadline = performance.now() + waitMs;
  while (latency.length < n && performance.now() < deadline) await Bun.sleep(20);
  sock.close();
  latency.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { sent: n, answered: latency.length, sendMs: r2(sendMs), p50Ms: r2(quantile(latency, 0.5)), p99Ms: r2(quantile(latency, 0.99)), maxMs: r2(latency[latency.length - 1] ?? NaN) };
}

async function sh(cmd: string[], check = true): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (check && code !== 0) throw new Error(`${cmd.join(" ")}: ${err}`);
  return out;
}

async function udpBound(ns: string, port: number): Promise<boolean> {
  return (await sh(["ip", "netns", "exec", ns, "ss", "-Hlun", `sport = :${port}`], false)).trim().length > 0;
}

async function driver(): Promise<void> {
  const n = Number(flag("clients", "1000"));
  const rounds = Number(flag("rounds", "3"));
  const servers = flag("servers", "pxeboot,dnsmasq").split(",");
  const binary = resolve(import.meta.dir, "../dist/pxeboot");
  const tag = `pds${process.pid % 10000}`;
  const [srvNs, cliNs, srvIf, cliIf] = [`${tag}s`, `${tag}c`, `${tag}a`, `${tag}b`];
  const net = "10.213.0";
  const root = mkdtempSync(join(tmpdir(), "pxeboot-dhcp-storm-"));
  // Readable by everyone: started as root, the server runs as tftp/nobody.
  chmodSync(root, 0o755);
  mkdirSync(join(root, "pxelinux.cfg"));
  writeFileSync(join(root, "pxelinux.0"), "loader\n");
  writeFileSync(join(root, "pxelinux.cfg/default"), "DEFAULT local\n");
  const rows: string[] = [];
  try {
    await sh(["ip", "netns", "add", srvNs]);
    await sh(["ip", "netns", "add", cliNs]);
    await sh(["ip", "link", "add", srvIf, "netns", srvNs, "type", "veth", "peer", "name", cliIf, "netns", cliNs]);
    await sh(["ip", "-n", srvNs, "addr", "add", `${net}.1/16`, "dev", srvIf]);
    await sh(["ip", "-n", cliNs, "addr", "add", `${net}.2/16`, "dev", cliIf]);
    for (const [ns, dev] of [[srvNs, srvIf], [cliNs, cliIf]] as const) {
      await sh(["ip", "-n", ns, "link", "set", dev, "up"]);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const argv: Record<string, string[]> = {
      pxeboot: [binary, "serve", root, "--address", `${net}.1`, "--port", "69", "--quiet", "--proxy-dhcp", srvIf],
      dnsmasq: ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--port=0", `--interface=${srvIf}`, "--bind-interfaces", `--dhcp-range=${net}.0,proxy,255.255.0.0`, '--pxe-service=x86PC,"Network boot",pxelinux', "--log-facility=/dev/null", "--pid-file="],
    };
    for (let round = 1; round <= rounds; round++) {
      for (const server of servers) {
        const proc = Bun.spawn(["ip", "netns", "exec", srvNs, ...argv[server]!], { stdout: "ignore", stderr: "pipe" });
        try {
          for (let i = 0; i < 100 && !(await udpBound(srvNs, 67)); i++) await Bun.sleep(50);
          // A storm meets a server that has been running: let start-up finish, then warm it with
          // 200 other machines' DISCOVERs, as the first racks of a morning would.
          await Bun.sleep(1500);
          await sh(["ip", "netns", "exec", cliNs, process.execPath, import.meta.path, "--client", cliIf, "200", "1000000"]);
          await Bun.sleep(1000);
          const out = await sh(["ip", "netns", "exec", cliNs, process.execPath, import.meta.path, "--client", cliIf, String(n), "0"]);
          const r = JSON.parse(out) as ClientResult;
          rows.push(`| ${server} | ${round} | ${r.answered}/${r.sent} | ${r.sendMs} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} |`);
          console.error(rows[rows.length - 1]);
        } finally {
          proc.kill("SIGTERM");
          await proc.exited;
        }
      }
    }
  } finally {
    await sh(["ip", "netns", "del", srvNs], false);
    await sh(["ip", "netns", "del", cliNs], false);
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`${n} DISCOVERs from ${n} MACs, back to back; latency = answer arrival - DISCOVER send (ms)\n`);
  console.log("| server | round | answered | storm sent in (ms) | p50 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |");
  console.log(rows.join("\n"));
}

if (args[0] === "--client") process.stdout.write(JSON.stringify(await runClients(args[1]!, Number(args[2]), 5000, Number(args[3]))));
else await driver();
