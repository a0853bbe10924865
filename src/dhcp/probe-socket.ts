/**
 * Sends probe.ts's DISCOVER out of one interface and collects the OFFERs for a while. Port 68
 * bound to the interface (SO_BINDTODEVICE), as a firmware's client would be: answers to a client
 * without an address come back broadcast to 68. Needs root (port 68, SO_BINDTODEVICE). Bounded:
 * it listens `waitMs` and keeps at most MAX_RESPONDERS answers, whatever arrives.
 */
import type { udp } from "bun";
import { readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { bindToInterface, socketFd, UDP_FLAG_REUSEPORT } from "../server/io/sockopt.ts";
import { UsageError } from "../usage-error.ts";
import { interfaceIPv4, interfaceNames } from "./interfaces.ts";
import { probeDiscover, readOffer, type ProbeArch, type ProbeRequest, type Responder } from "./probe.ts";

const DHCP_CLIENT_PORT = 68;
const DHCP_SERVER_PORT = 67;
const MAX_RESPONDERS = 64;

export interface ProbeResult {
  iface: string;
  address?: string;
  responders: Responder[];
  /** Datagrams on 68 that were not an answer to this probe (other clients' traffic, malformed). */
  ignored: number;
}

function interfaceMac(iface: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(`/sys/class/net/${iface}/address`, "utf8").trim();
  } catch {
    throw new UsageError(`--dhcp: no interface '${iface}' (this host has: ${interfaceNames().join(", ")})`);
  }
  const bytes = text.split(":").map((h) => parseInt(h, 16));
  if (bytes.length !== 6 || bytes.some((b) => Number.isNaN(b))) throw new UsageError(`--dhcp: interface '${iface}' has no Ethernet address (${text}): name an Ethernet interface`);
  return Uint8Array.from(bytes);
}

export async function probeSegment(iface: string, arch: ProbeArch, waitMs: number): Promise<ProbeResult> {
  const req: ProbeRequest = { mac: interfaceMac(iface), xid: randomInt(1, 0x7fffffff), arch };
  const responders: Responder[] = [];
  let ignored = 0;
  let sock: udp.Socket<"uint8array">;
  try {
    const options: udp.SocketOptions<"uint8array"> & { flags?: number } = {
      hostname: "0.0.0.0",
      port: DHCP_CLIENT_PORT,
      binaryType: "uint8array",
      // SO_REUSEPORT: a DHCP client on this host may hold 68.
      flags: UDP_FLAG_REUSEPORT,
      socket: {
        data: (_s, data, _port, address) => {
          const r = readOffer(data, address, req);
          if (!r) ignored++;
          else if (responders.length < MAX_RESPONDERS) responders.push(r);
        },
        error: () => {},
      },
    };
    sock = await Bun.udpSocket(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (code === "EACCES") throw new UsageError("--dhcp: sending a DHCP probe needs root (UDP port 68): run doctor --dhcp as root");
    throw new UsageError(`--dhcp: cannot bind UDP port 68: ${code} (a DHCP client holding it without sharing?)`);
  }
  try {
    if (!bindToInterface(socketFd(sock), iface))
      throw new UsageError(`--dhcp: cannot bind the probe to interface ${iface} (SO_BINDTODEVICE needs root or CAP_NET_RAW)`);
    sock.setBroadcast(true);
    const packet = probeDiscover(req);
    // Sent twice, a second apart, as firmware resends: one lost broadcast should not hide a server.
    sock.send(packet, DHCP_SERVER_PORT, "255.255.255.255");
    await Bun.sleep(Math.min(1000, waitMs / 2));
    sock.send(packet, DHCP_SERVER_PORT, "255.255.255.255");
    await Bun.sleep(Math.max(0, waitMs - Math.min(1000, waitMs / 2)));
  } finally {
    sock.close();
  }
  const address = interfaceIPv4(iface);
  return { iface, ...(address ? { address } : {}), responders, ignored };
}
