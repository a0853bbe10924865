/**
 * A blind spoofer: it makes one ordinary request of its own (from its own address) and sees the
 * reply, so it knows one transfer port of the server. Then it sends, from the victim's address,
 * an RRQ and ACKs for the block numbers a transfer would have (0, 1, 2, …) to the port it learned,
 * never reading anything sent to the victim. If the server's transfer ID were predictable, those
 * ACKs would drive a whole transfer at the victim (issue 21: 290–434× what the spoofer sent).
 *
 * The victim's socket counts what it receives. The test's own code (not the spoofer) then looks at
 * which server port the victim's datagrams came from: a guess that happened to hit the victim's
 * transfer port is the 1-in-pool-size luck a random TID leaves; such a round is reported and
 * retried with a fresh victim, and the test fails if every round hits (TIDs are predictable).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { RawPeer, randomFile, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

let server: ServerProcess;
const { root, cleanup } = scratchRoot("blind-spoofer");

beforeAll(async () => {
  randomFile(join(root, "big"), 16 * 1024 * 1024, 7);
  // One worker: the attacker's best case, its own request and the victim's meet the same process
  // (with several workers it would pick a source address steered to the victim's worker).
  server = await startServer(root, ["--workers", "1", "--per-client-rate", "0", "--per-client-max", "0"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

/** The spoofer's own, ordinary request: the server port its reply came from. */
async function learnPort(): Promise<number> {
  const own = await RawPeer.open("127.0.0.1");
  try {
    own.send(encodeRequest(Opcode.RRQ, "big", "octet"), server.port);
    const reply = await own.recv(3000);
    if (!reply) throw new Error("no reply to the spoofer's own request");
    // End its own transfer politely: ERROR 0 to the port it learned.
    own.send(new Uint8Array([0, 5, 0, 0, 0]), reply.port);
    return reply.port;
  } finally {
    own.close();
  }
}

interface Round {
  victimAddress: string;
  learnedPort: number;
  spooferBytes: number;
  victimBytes: number;
  victimDatagrams: number;
  /** The server ports the victim heard from: transfer datagrams (OACK, DATA), and ERROR 5 replies to strangers. */
  fromPorts: Set<number>;
  errorFromPorts: Set<number>;
}

const SPOOF_MS = 3000;
const ACK_EVERY_MS = 2;
/** How long the victim keeps counting after the spoofer stops (retransmissions, fallbacks). */
const TAIL_MS = 4000;

async function round(victimAddress: string): Promise<Round> {
  const learnedPort = await learnPort();
  // The victim: a live socket that only counts. The spoofer's datagrams carry its source address
  // and port (what a spoofed packet looks like), so they are sent through it, but nothing the
  // victim receives is read by the spoofer's logic below.
  const victim = await RawPeer.open(victimAddress);
  let victimBytes = 0;
  let victimDatagrams = 0;
  const fromPorts = new Set<number>();
  const errorFromPorts = new Set<number>();
  let counting = true;
  const counter = (async () => {
    while (counting) {
      const d = await victim.recv(100);
      if (!d) continue;
      victimBytes += d.data.length;
      victimDatagrams++;
      (d.data[1] === Opcode.ERROR ? errorFromPorts : fromPorts).add(d.port);
    }
  })();
  let spooferBytes = 0;
  const spoof = (data: Uint8Array, port: number) => {
    spooferBytes += data.length;
    victim.send(data, port);
  };
  try {
    spoof(encodeRequest(Opcode.RRQ, "big", "octet", new Map([["blksize", "1468"], ["windowsize", "64"]])), server.port);
    await Bun.sleep(20);
    const until = Date.now() + SPOOF_MS;
    for (let block = 0; Date.now() < until; block++) {
      spoof(encodeAck(block & 0xffff), learnedPort);
      await Bun.sleep(ACK_EVERY_MS);
    }
    await Bun.sleep(TAIL_MS);
  } finally {
    counting = false;
    await counter;
    victim.close();
  }
  return { victimAddress, learnedPort, spooferBytes, victimBytes, victimDatagrams, fromPorts, errorFromPorts };
}

test("a blind spoofer's ACKs to a transfer port it learned draw at most 5× their bytes at the victim", async () => {
  const rounds: Round[] = [];
  for (const victimAddress of ["127.0.0.61", "127.0.0.62", "127.0.0.63"]) {
    const done = await round(victimAddress);
    rounds.push(done);
    const hit = done.fromPorts.has(done.learnedPort);
    console.log(
      `blind spoofer → ${victimAddress}: spoofer sent ${done.spooferBytes} B, victim received ${done.victimBytes} B in ${done.victimDatagrams} datagrams ` +
        `(${(done.victimBytes / done.spooferBytes).toFixed(2)}×), learned port ${done.learnedPort}, its transfer ran on ${[...done.fromPorts].join(",") || "nothing"}, ERRORs from ${[...done.errorFromPorts].join(",") || "nowhere"}${hit ? " (a lucky guess)" : ""}`,
    );
    if (!hit) break;
  }
  const missed = rounds.filter((r) => !r.fromPorts.has(r.learnedPort));
  // A port one request showed must not be every later transfer's port.
  expect(missed.length).toBeGreaterThan(0);
  for (const r of missed) expect(r.victimBytes / r.spooferBytes).toBeLessThanOrEqual(5);
}, 60_000);

/** The UDP ports the server process holds now, from `ss` (its pool, its listener, any own sockets). */
function serverPorts(): Set<number> {
  const out = Bun.spawnSync(["ss", "-Hunap"]).stdout.toString();
  const ports = new Set<number>();
  for (const line of out.split("\n")) {
    if (!line.includes(`pid=${server.proc.pid},`)) continue;
    const local = line.trim().split(/\s+/)[3] ?? "";
    ports.add(Number(local.slice(local.lastIndexOf(":") + 1)));
  }
  return ports;
}

test("a windowed transfer runs on a socket of its own, on a port none of the pool's, closed when it ends", async () => {
  const pool = serverPorts();
  expect(pool.size).toBeGreaterThan(200);
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) {
    const client = await RawPeer.open("127.0.0.70");
    try {
      client.send(encodeRequest(Opcode.RRQ, "big", "octet", new Map([["windowsize", "4"]])), server.port);
      const oack = await client.recv(3000);
      expect(oack?.data[1]).toBe(Opcode.OACK);
      const own = oack!.port;
      seen.push(own);
      // Not a pool socket a request of anyone else's could have shown, and held only while it runs.
      expect(pool.has(own)).toBe(false);
      expect(serverPorts().has(own)).toBe(true);
      client.send(new Uint8Array([0, 5, 0, 0, 0]), own);
      const deadline = Date.now() + 3000;
      while (serverPorts().has(own) && Date.now() < deadline) await Bun.sleep(50);
      expect(serverPorts().has(own)).toBe(false);
    } finally {
      client.close();
    }
  }
  expect(new Set(seen).size).toBe(3);
  // Lockstep transfers still share the pool.
  const lockstep = await RawPeer.open("127.0.0.71");
  try {
    lockstep.send(encodeRequest(Opcode.RRQ, "big", "octet"), server.port);
    const data = await lockstep.recv(3000);
    expect(pool.has(data!.port)).toBe(true);
    lockstep.send(new Uint8Array([0, 5, 0, 0, 0]), data!.port);
  } finally {
    lockstep.close();
  }
}, 30_000);
