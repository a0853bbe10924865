/**
 * A DHCP client side for the proxy DHCP tests, run inside a network namespace
 * (`ip netns exec NS bun dhcp-peer.ts IFACE < plan.json`): sends the plan's datagrams from port
 * 68 (broadcast, or unicast to ADDR:PORT), collects every reply for `waitMs`, and prints them as
 * JSON. Bounded: it exits after the wait whatever arrives.
 */
import { setSocketOption, socketFd } from "../../src/server/io/sockopt.ts";

export interface PeerPlan {
  sends: { hex: string; to: string; port: number }[];
  /** Pause between sends (ms); 0 sends them back to back. */
  gapMs: number;
  waitMs: number;
}

export interface PeerReply {
  hex: string;
  from: string;
  port: number;
}

const iface = process.argv[2]!;
const plan = JSON.parse(await Bun.stdin.text()) as PeerPlan;
const replies: PeerReply[] = [];
const sock = await Bun.udpSocket({
  hostname: "0.0.0.0",
  port: 68,
  binaryType: "uint8array",
  socket: {
    data: (_s, data, port, address) => void replies.push({ hex: Buffer.from(data).toString("hex"), from: address, port }),
    error: () => {},
  },
});
const name = new TextEncoder().encode(`${iface}\0`);
setSocketOption(socketFd(sock), 1, 25, new DataView(name.buffer));
sock.setBroadcast(true);
for (const s of plan.sends) {
  try {
    sock.send(Buffer.from(s.hex, "hex"), s.port, s.to);
  } catch {
    // a send the kernel refused is a request the server never saw: the test counts replies
  }
  if (plan.gapMs > 0) await Bun.sleep(plan.gapMs);
}
await Bun.sleep(plan.waitMs);
sock.close();
process.stdout.write(JSON.stringify(replies));
