/**
 * What a client that never answers, and one that vanishes, draw from a TFTP server on
 * 127.0.0.1:PORT (bench/silent-clients.sh runs it beside each server, in a network namespace).
 *
 *   silent: one RRQ (blksize 65464, windowsize 64) from 127.0.0.71, never answered; every byte
 *           that comes back is counted until QUIET_S seconds pass without any (or CAP_S in all).
 *   close:  an RRQ (blksize 1024, windowsize 16) from 127.0.0.72, its first answer acknowledged
 *           (ACK 0 to an OACK, ACK 1 to a DATA 1), then the socket closed; every ICMP port
 *           unreachable the host sends back for that port is one datagram that reached the
 *           closed port, counted for CLOSE_S seconds on a raw ICMP socket (root).
 *
 * Prints one JSON line. Usage: bun bench/silent-clients.ts PORT FILE
 */
import { decodePacket, encodeAck, encodeRequest } from "../src/protocol/packet.ts";
import { Opcode } from "../src/protocol/types.ts";
import { UnreachableWatch } from "../src/server/io/icmp-unreachable.ts";

const QUIET_S = Number(process.env.QUIET_S ?? 10);
const CAP_S = Number(process.env.CAP_S ?? 90);
const CLOSE_S = Number(process.env.CLOSE_S ?? 25);
const [portArg, file = "big"] = process.argv.slice(2);
const port = Number(portArg);

async function silent() {
  let bytes = 0;
  let datagrams = 0;
  let last = Date.now();
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.71",
    binaryType: "uint8array",
    socket: {
      data(_s, d) {
        bytes += d.length;
        datagrams++;
        last = Date.now();
      },
      error() {},
    },
  });
  const request = encodeRequest(Opcode.RRQ, file, "octet", new Map([["blksize", "65464"], ["windowsize", "64"]]));
  const t0 = Date.now();
  sock.send(request, port, "127.0.0.1");
  while (Date.now() - last < QUIET_S * 1000 && Date.now() - t0 < CAP_S * 1000) await Bun.sleep(100);
  sock.close();
  return { requestBytes: request.length, bytes, datagrams, ratio: Math.round((bytes / request.length) * 10) / 10, lastAfterS: Math.round((last - t0) / 100) / 10 };
}

async function close() {
  const watch = UnreachableWatch.open();
  if (!watch) return { error: "no raw ICMP socket (run as root)" };
  watch.poll(() => {});
  let first: { data: Uint8Array; port: number } | undefined;
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.72",
    binaryType: "uint8array",
    socket: { data: (_s, data, from) => void (first ??= { data: new Uint8Array(data), port: from }), error() {} },
  });
  const clientPort = sock.port;
  sock.send(encodeRequest(Opcode.RRQ, file, "octet", new Map([["blksize", "1024"], ["windowsize", "16"]])), port, "127.0.0.1");
  for (let i = 0; i < 100 && !first; i++) await Bun.sleep(20);
  if (!first) return { error: "no answer" };
  const p = decodePacket(first.data);
  sock.send(encodeAck(p.op === Opcode.DATA ? 1 : 0), first.port, "127.0.0.1");
  sock.close();
  const t0 = Date.now();
  let datagrams = 0;
  let lastAt = 0;
  while (Date.now() - t0 < CLOSE_S * 1000) {
    watch.poll((u) => {
      if (u.address === "127.0.0.72" && u.port === clientPort) {
        datagrams++;
        lastAt = Date.now() - t0;
      }
    });
    await Bun.sleep(20);
  }
  watch.close();
  return { answeredWith: p.op === Opcode.OACK ? "OACK" : p.op === Opcode.DATA ? "DATA" : String(p.op), datagramsAfterClose: datagrams, lastAfterS: Math.round(lastAt / 100) / 10 };
}

const [s, c] = await Promise.all([silent(), close()]);
console.log(JSON.stringify({ silent: s, close: c }));
