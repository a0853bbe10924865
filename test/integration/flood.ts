/**
 * Garbage generator for the flood test, run as its own process so the server under test and the
 * flood compete like separate hosts would: argv = port... count seed. Sends random and truncated
 * datagrams (and near-valid packets) to every given port from a few source ports, then exits.
 */
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

function datagram(): Uint8Array {
  const kind = rand() % 6;
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
