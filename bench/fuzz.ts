/**
 * The long fuzz run: a million or more hostile datagrams at a running server while real transfers
 * go on, then a verdict. The request port gets the flood generator's mix (random, truncated,
 * oversized, mutated-valid packets of every opcode, test/integration/flood.ts, in its own
 * process); every live transfer's port gets mutated datagrams from a stranger's socket, which the
 * server must answer with ERROR 5 without touching the transfer. Every real transfer is checked
 * byte for byte.
 *
 *   bun bench/fuzz.ts [--binary dist/pxeboot] [--datagrams 1000000] [--seed 7]
 *
 * Prints one line: datagrams sent, transfers intact/failed, server alive, RSS before and after.
 * Loopback only; bounded in count and time (10 minutes at most).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../src/protocol/packet.ts";
import { Opcode } from "../src/protocol/types.ts";
import { RawPeer, randomFile, sha256, startServer } from "../test/integration/harness.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const datagrams = Number(flag("datagrams", "1000000"));
const seed = Number(flag("seed", "7"));
const LIMIT_MS = 10 * 60_000;

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

const root = mkdtempSync(join(tmpdir(), "pxeboot-fuzz-"));
chmodSync(root, 0o755);
const file = randomFile(join(root, "payload"), 2 * 1024 * 1024 + 77, 5);
const want = sha256(file);
const server = await startServer(root, ["--quiet", "--log-format", "json"]);
const started = Date.now();
const rssBefore = rssKiB(server.proc.pid);

// The request-port flood, in its own process.
const strangerShare = Math.floor(datagrams / 10);
const flood = Bun.spawn(
  [process.execPath, resolve(import.meta.dir, "../test/integration/flood.ts"), String(server.port), String(datagrams - strangerShare), String(seed)],
  { stdout: "pipe", stderr: "inherit" },
);

let x = seed + 1;
const rand = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
};

/** One real lockstep transfer at blksize 1468 while a stranger sprays its TID; true when intact. */
async function realTransfer(stranger: RawPeer, budget: { left: number }): Promise<boolean> {
  // Not the flood's address: its RRQs would spend this one's --per-client-rate.
  const client = await RawPeer.open("127.0.0.2");
  try {
    client.send(encodeRequest(Opcode.RRQ, "payload", "octet", new Map([["blksize", "1468"]])), server.port);
    const first = await client.recv(5000);
    if (!first || decodePacket(first.data).op !== Opcode.OACK) return false;
    const tid = first.port;
    const got = new Uint8Array(file.length);
    let pos = 0;
    let next = 1;
    let last = 0;
    client.send(encodeAck(0), tid);
    for (let quiet = 0; quiet < 20; ) {
      // The stranger's share: a burst of mutated datagrams at the live transfer's port.
      for (let i = 0; i < 8 && budget.left > 0; i++, budget.left--) {
        const junk = new Uint8Array(1 + (rand() % 600));
        for (let j = 0; j < junk.length; j++) junk[j] = rand() & 0xff;
        if (junk.length >= 2) junk[0] = 0;
        if (junk.length >= 2) junk[1] = 1 + (rand() % 6);
        stranger.send(junk, tid);
      }
      const d = await client.recv(300);
      if (!d) {
        quiet++;
        client.send(encodeAck(last), tid);
        continue;
      }
      if (d.port !== tid) continue;
      const p = decodePacket(d.data);
      if (p.op !== Opcode.DATA) return false;
      if (p.block === (next & 0xffff)) {
        got.set(p.data, pos);
        pos += p.data.length;
        last = p.block;
        next++;
        if (p.data.length < 1468) {
          client.send(encodeAck(last), tid);
          return pos === file.length && sha256(got) === want;
        }
      }
      client.send(encodeAck(last), tid);
    }
    return false;
  } finally {
    client.close();
  }
}

const stranger = await RawPeer.open();
const budget = { left: strangerShare };
let intact = 0;
let failed = 0;
const floodDone = flood.exited;
let floodOver = false;
void floodDone.then(() => (floodOver = true));
// Three real clients at a time until both floods are spent.
while ((!floodOver || budget.left > 0) && Date.now() - started < LIMIT_MS) {
  const results = await Promise.all([0, 1, 2].map(() => realTransfer(stranger, budget)));
  for (const ok of results) ok ? intact++ : failed++;
}
stranger.close();
const floodOut = await new Response(flood.stdout).text();
await floodDone;
const sent = Number(/sent (\d+)/.exec(floodOut)?.[1] ?? 0) + (strangerShare - budget.left);
const alive = server.proc.exitCode === null;
// After the storm: one more plain fetch must work.
const after = alive ? await realTransfer(stranger, { left: 0 }) : false;
const rssAfter = alive ? rssKiB(server.proc.pid) : 0;
await server.stop();
rmSync(root, { recursive: true, force: true });
console.log(
  `fuzz: datagrams=${sent} seconds=${((Date.now() - started) / 1000).toFixed(1)} transfers_intact=${intact} transfers_failed=${failed} ` +
    `server_alive=${alive} fetch_after=${after ? "ok" : "FAILED"} rss_before_mib=${(rssBefore / 1024).toFixed(1)} rss_after_mib=${(rssAfter / 1024).toFixed(1)}`,
);
process.exit(alive && after && failed === 0 ? 0 : 1);
