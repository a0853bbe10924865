/** DHCP requests as PXE firmware sends them (option sets from FIRMWARE-NOTES.md), for tests. */
import { BOOTREQUEST, MSG, OPT, buildDhcp, type DhcpPacket } from "../../src/dhcp/packet.ts";

export interface ClientShape {
  mac?: string;
  xid?: number;
  type?: number;
  vendorClass?: string;
  arch?: number;
  userClass?: string;
  ipxe175?: boolean;
  uuid?: boolean;
  giaddr?: string;
  ciaddr?: string;
  extra?: [number, Uint8Array][];
}

const te = new TextEncoder();

export function macBytes(mac: string): Uint8Array {
  const out = new Uint8Array(16);
  mac.split(":").forEach((h, i) => (out[i] = parseInt(h, 16)));
  return out;
}

export function clientPacket(s: ClientShape = {}): DhcpPacket {
  const options = new Map<number, Uint8Array>();
  options.set(OPT.MESSAGE_TYPE, Uint8Array.of(s.type ?? MSG.DISCOVER));
  if (s.arch !== undefined) options.set(OPT.CLIENT_ARCH, Uint8Array.of(s.arch >> 8, s.arch & 0xff));
  if (s.vendorClass !== "") options.set(OPT.VENDOR_CLASS, te.encode(s.vendorClass ?? "PXEClient:Arch:00000:UNDI:002001"));
  if (s.userClass) options.set(OPT.USER_CLASS, te.encode(s.userClass));
  if (s.ipxe175) options.set(OPT.IPXE_ENCAP, Uint8Array.of(0xb1, 1, 1));
  if (s.uuid) options.set(OPT.CLIENT_UUID, Uint8Array.of(0, ...Array.from({ length: 16 }, (_, i) => i + 1)));
  for (const [k, v] of s.extra ?? []) options.set(k, v);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: s.xid ?? 0x1234abcd,
    secs: 4,
    flags: 0x8000,
    ciaddr: s.ciaddr ?? "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: s.giaddr ?? "0.0.0.0",
    chaddr: macBytes(s.mac ?? "52:54:00:12:34:56"),
    sname: "",
    file: "",
    options,
  };
}

export const clientBytes = (s: ClientShape = {}) => buildDhcp(clientPacket(s));

/** BIOS iPXE ROM (SeaBIOS), OVMF x64, OVMF HTTP Boot, as seen in the firmware lab. */
export const FIRMWARE = {
  seabiosIpxe: { vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0, userClass: "iPXE", ipxe175: true },
  biosPxe: { vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0, uuid: true },
  ovmf: { vendorClass: "PXEClient:Arch:00007:UNDI:003016", arch: 7, uuid: true },
  ovmfHttp: { vendorClass: "HTTPClient:Arch:00016:UNDI:003016", arch: 16, uuid: true },
  arm64: { vendorClass: "PXEClient:Arch:00011:UNDI:003016", arch: 11 },
} satisfies Record<string, ClientShape>;
