/**
 * The proxyDHCP answer (PXE 2.1 §2.2.2-2.2.5): an OFFER to a DISCOVER on 67, an ACK to a
 * REQUEST on 4011, both with no address (yiaddr 0: the site's DHCP server gives that), our
 * address as the server, the boot file, option 60 naming the client's family back, and the
 * client's UUID echoed. Where it goes follows RFC 2131 §4.1 for a client without an address.
 */
import { BOOTREPLY, MSG, OPT, encodeSubOptions, ipBytes, type DhcpPacket } from "./packet.ts";
import type { PxeRequest } from "./pxe-request.ts";

/** PXE_DISCOVERY_CONTROL = 8: boot the file named in this packet; no boot server discovery. */
const PXE_DISCOVERY_CONTROL = 6;
const USE_BOOTFILE = 8;

const VENDOR_CLASS_BYTES = { PXEClient: new TextEncoder().encode("PXEClient"), HTTPClient: new TextEncoder().encode("HTTPClient") } as const;
const BOOT_THIS_FILE = encodeSubOptions([[PXE_DISCOVERY_CONTROL, Uint8Array.of(USE_BOOTFILE)]]);

export interface Destination {
  address: string;
  port: number;
  broadcast: boolean;
}

export function buildReply(req: PxeRequest, asked: DhcpPacket, file: string, discoveryControl: boolean, serverAddress: string): DhcpPacket {
  const options = new Map<number, Uint8Array>();
  options.set(OPT.MESSAGE_TYPE, Uint8Array.of(req.kind === "discover" ? MSG.OFFER : MSG.ACK));
  options.set(OPT.SERVER_ID, ipBytes(serverAddress));
  options.set(OPT.VENDOR_CLASS, VENDOR_CLASS_BYTES[req.vendorClass]);
  if (req.uuid) options.set(OPT.CLIENT_UUID, req.uuid);
  if (discoveryControl) options.set(OPT.VENDOR_SPECIFIC, BOOT_THIS_FILE);
  return {
    op: BOOTREPLY,
    htype: asked.htype,
    hlen: asked.hlen,
    hops: 0,
    xid: asked.xid,
    secs: 0,
    flags: asked.flags,
    ciaddr: req.kind === "request" ? asked.ciaddr : "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: serverAddress,
    giaddr: asked.giaddr,
    chaddr: asked.chaddr,
    sname: "",
    file,
    options,
  };
}

/**
 * 4011 is answered where the request came from (EDK2 sends from 4011, iPXE from 68); a relayed
 * DISCOVER goes back to the relay's server port; otherwise broadcast, as the client has no
 * address we could unicast to.
 */
export function replyDestination(req: PxeRequest, from: { address: string; port: number }): Destination {
  if (req.port === "binl") return { address: from.address, port: from.port, broadcast: false };
  if (req.giaddr !== "0.0.0.0") return { address: req.giaddr, port: 67, broadcast: false };
  return { address: "255.255.255.255", port: 68, broadcast: true };
}
