/**
 * Who holds a UDP port, for the one line that explains a failed bind: the socket's inode from
 * /proc/net/udp, then the process whose descriptors include it. Best-effort (another user's
 * processes are hidden from a non-root server); the parser is pure and tested on fixtures.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Inodes of the sockets bound to `port` in a /proc/net/udp text ("sl local_address … inode …"). */
export function socketInodes(procNetUdp: string, port: number): { address: string; inode: string }[] {
  const out: { address: string; inode: string }[] = [];
  for (const line of procNetUdp.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const [hexAddr, hexPort] = cols[1]!.split(":");
    if (!hexAddr || !hexPort || parseInt(hexPort, 16) !== port) continue;
    // The address is the kernel's u32 in host order: little-endian on the machines we run on.
    const n = parseInt(hexAddr, 16);
    const address = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
    out.push({ address, inode: cols[9]! });
  }
  return out;
}

export interface PortHolder {
  pid: number;
  name: string;
  address: string;
}

/** The processes holding UDP `port`, as far as /proc shows them to us. */
export function udpPortHolders(port: number, proc = "/proc"): PortHolder[] {
  let sockets: { address: string; inode: string }[];
  try {
    sockets = socketInodes(readFileSync(`${proc}/net/udp`, "utf8"), port);
  } catch {
    return [];
  }
  const byInode = new Map(sockets.map((s) => [`socket:[${s.inode}]`, s.address]));
  const holders: PortHolder[] = [];
  if (byInode.size === 0) return holders;
  for (const pid of safeList(proc)) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    for (const fd of safeList(`${proc}/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const address = byInode.get(target);
      if (address === undefined) continue;
      let name = "?";
      try {
        name = readFileSync(`${proc}/${pid}/comm`, "utf8").trim();
      } catch {
        // gone meanwhile
      }
      holders.push({ pid: Number(pid), name, address });
      break;
    }
  }
  return holders;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
