/**
 * Garbage generator for the flood test and bench/fuzz.sh, run as its own process so the server
 * under test and the flood compete like separate hosts would: argv = port... count seed. Sends
 * random, truncated, oversized and mutated-valid datagrams of every opcode (RRQ, WRQ, DATA, ACK,
 * ERROR, OACK) to every given port from a few source ports, then exits.
 */
import { encodeAck, encodeData, encodeError, encodeOack, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
const args = process.argv.slice(2).map(Number);
const seed = args.pop()!;
const count = args.pop()!;
const ports = args;

let x = seed >>> 0 || 1;
const rand = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
};

/** Valid packets of every kind: mutated, they probe the parsers just past what they accept. */
const VALID: Uint8Array[] = [
  encodeRequest(Opcode.RRQ, "pxelinux.0", "octet", new Map([["blksize", "1468"], ["tsize", "0"], ["windowsize", "16"]])),
  encodeRequest(Opcode.RRQ, "../../etc/passwd", "netascii"),
  encodeRequest(Opcode.WRQ, "upload.bin", "octet", new Map([["tsize", "1048576"]])),
  encodeData(1, new Uint8Array(512)),
  encodeAck(0),
  encodeAck(65535),
  encodeError(8, "tsize probe"),
  encodeOack(new Map([["blksize", "65464"], ["timeout", "255"]])),
];

function mutated(): Uint8Array {
  const base = VALID[rand() % VALID.length]!;
  const how = rand() % 4;
  if (how === 0) return base.subarray(0, rand() % (base.length + 1)); // truncated anywhere
  const b = new Uint8Array(how === 3 ? base.length + 1 + (rand() % 64) : base.length);
  b.set(base);
  for (let i = base.length; i < b.length; i++) b[i] = rand() & 0xff; // trailing junk
  const flips = 1 + (rand() % 4);
  for (let i = 0; i < flips; i++) b[rand() % b.length] = how === 1 ? 0 : rand() & 0xff; // NULs or random bytes
  return b;
}

function datagram(): Uint8Array {
  const kind = rand() % 9;
  if (kind >= 6) return mutated();
  const len = kind === 0 ? rand() % 4 : kind === 1 ? rand() % 1600 : kind === 2 ? 65000 + (rand() % 507) : 2 + (rand() % 80);
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = rand() & 0xff;
  if (len >= 2 && kind >= 3) {
    b[0] = 0;
    b[1] = 1 + (rand() % 6); // a real opcode with garbage behind it
    if (kind === 4) for (let i = 2; i < len; i += 1 + (rand() % 9)) b[i] = 0; // NUL-separated junk fields
  }
  return b;
}

const sockets = await Promise.all([0, 1, 2, 3].map(() => Bun.udpSocket({ socket: { data() {}, error() {} } })));
let sent = 0;
for (let i = 0; i < count; i++) {
  const s = sockets[i % sockets.length]!;
  const port = ports[i % ports.length]!;
  try {
    if (s.send(datagram(), port, "127.0.0.1")) sent++;
  } catch {
    // ICMP errors surface here; keep going
  }
  if (i % 256 === 0) await Bun.sleep(1); // let the kernel drain: we want a flood, not only drops
}
for (const s of sockets) s.close();
console.log(`sent ${sent}`);
export {};
