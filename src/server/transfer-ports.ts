/**
 * The transfer sockets of one server process: two shared TransferPorts per listening address,
 * bound at start-up (so before privileges are dropped, and from --port-range when one is given).
 *
 * Two, not one: a client that starts a new transfer from the client port it has just used is
 * given the other socket, so a late datagram of its old transfer (a duplicate final ACK, say)
 * can't be taken for the new one's, the guarantee a new socket per transfer used to give.
 */
import type { udp } from "bun";
import { PortRange, PortsBusy } from "./ports.ts";
import { disableRecvErr, setReceiveBuffer, setSendBuffer, socketFd } from "./sockopt.ts";
import { TransferPort, type DatagramSocket } from "./transfer-port.ts";

export const PORTS_PER_ADDRESS = 2;

/**
 * Socket buffers of a shared transfer socket: one turn's batch for thousands of transfers leaves
 * at once, and their ACKs arrive together. Capped by net.core.[rw]mem_max unless root.
 */
const SEND_BUFFER_BYTES = 4 * 1024 * 1024;

export interface TransferPortsOptions {
  /** --port-range: sockets bind there, each process taking its share. */
  range?: { low: number; high: number };
  /** Processes sharing the range (--workers): with too few ports for two each, each takes one. */
  processes?: number;
  receiveBufferBytes: number;
}

export class TransferPorts {
  private constructor(private readonly byAddress: Map<string, TransferPort[]>) {}

  static async bind(addresses: readonly string[], opts: TransferPortsOptions): Promise<TransferPorts> {
    const range = opts.range ? new PortRange(opts.range.low, opts.range.high) : undefined;
    const perAddress = range && range.size < PORTS_PER_ADDRESS * (opts.processes ?? 1) * addresses.length ? 1 : PORTS_PER_ADDRESS;
    const byAddress = new Map<string, TransferPort[]>();
    const all: TransferPort[] = [];
    try {
      for (const address of addresses) {
        const ports: TransferPort[] = [];
        for (let i = 0; i < perAddress; i++) {
          try {
            const port = range ? await range.bind((p) => open(address, p, opts.receiveBufferBytes)) : await open(address, 0, opts.receiveBufferBytes);
            ports.push(port);
            all.push(port);
          } catch (err) {
            // The second socket is a nicety; with the range this full, one serves every transfer.
            if (err instanceof PortsBusy && ports.length > 0) break;
            throw err;
          }
        }
        byAddress.set(address, ports);
      }
    } catch (err) {
      for (const p of all) p.close();
      if (err instanceof PortsBusy) throw new Error(`${err.message} (by other programs or workers): transfers need at least one port per address and worker; widen the range`);
      throw err;
    }
    return new TransferPorts(byAddress);
  }

  /** The socket a new transfer with this client uses: one this client endpoint is a stranger to. */
  pick(bindAddress: string, clientAddress: string, clientPort: number): TransferPort {
    const ports = this.byAddress.get(bindAddress)!;
    let best = ports[0]!;
    for (const p of ports) if (!p.knows(clientAddress, clientPort)) return p;
    for (const p of ports) if (p.size < best.size) best = p;
    return best;
  }

  /** An ICMP port unreachable quoting a datagram from `localPort`: the transfer to that client ends. */
  unreachable(localPort: number, address: string, port: number): boolean {
    for (const ports of this.byAddress.values()) for (const p of ports) if (p.localPort === localPort && p.unreachable(address, port)) return true;
    return false;
  }

  /** Local ports per address, for the start-up log. */
  get bound(): { address: string; ports: number[] }[] {
    return [...this.byAddress].map(([address, ports]) => ({ address, ports: ports.map((p) => p.localPort) }));
  }

  close(): void {
    for (const ports of this.byAddress.values()) for (const p of ports) p.close();
  }
}

async function open(address: string, port: number, receiveBufferBytes: number): Promise<TransferPort> {
  let tp: TransferPort | undefined;
  const socket = await Bun.udpSocket({
    hostname: address,
    port,
    binaryType: "uint8array",
    socket: {
      data: (_s, data, from, addr) => tp?.receive(data, from, addr),
      drain: () => tp?.onDrain(),
      // With IP_RECVERR off nothing should land here; a send error is loss as far as TFTP goes.
      error: () => {},
    },
  });
  const fd = socketFd(socket);
  disableRecvErr(fd);
  setSendBuffer(fd, SEND_BUFFER_BYTES);
  setReceiveBuffer(fd, receiveBufferBytes);
  tp = new TransferPort(socket as unknown as DatagramSocket & udp.Socket<"uint8array">);
  return tp;
}
