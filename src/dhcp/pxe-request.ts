/**
 * Which DHCP messages are PXE boot requests a proxyDHCP answers, and what the client said about
 * itself (PXE 2.1 §2.2, RFC 4578). Everything else — ordinary DHCP clients, a PXE client's
 * request for the site's address, packets we cannot make sense of — is ignored, with a reason.
 */
import { BOOTREQUEST, MSG, OPT, formatChaddr, type DhcpPacket } from "./packet.ts";

/** Client system architecture (RFC 4578 §2.1, IANA "Processor Architecture Types"). */
export const ARCH = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_X64: 7,
  EFI_BC: 9,
  EFI_ARM64: 11,
  EFI_X64_HTTP: 16,
  EFI_ARM64_HTTP: 19,
} as const;

/** Where the request came in: the DHCP port (broadcast or relayed) or the PXE boot server port. */
export type RequestPort = "dhcp" | "binl";

export interface PxeRequest {
  kind: "discover" | "request";
  port: RequestPort;
  /** aa:bb:cc:dd:ee:ff, lower case. */
  mac: string;
  xid: number;
  /** Option 60's family: answered back in our option 60 (UEFI HTTP Boot checks it). */
  vendorClass: "PXEClient" | "HTTPClient";
  /** Option 93, else the "Arch:NNNNN" of option 60, else 0 (BIOS firmware that omits both). */
  arch: number;
  /** Where `arch` came from, for the log. */
  archFrom: "option 93" | "option 60" | "assumed";
  /** iPXE announces itself by user class "iPXE" or its own option 175. */
  ipxe: boolean;
  /** Option 77 as text, for the log. */
  userClass?: string;
  /** Option 97 as sent: echoed in the reply, as the PXE spec asks. */
  uuid?: Uint8Array;
  giaddr: string;
  ciaddr: string;
}

export type Classified = { pxe: true; request: PxeRequest } | { pxe: false; reason: string };

const latin1 = new TextDecoder("latin1");

export function classify(p: DhcpPacket, port: RequestPort): Classified {
  if (p.op !== BOOTREQUEST) return { pxe: false, reason: `op ${p.op} is not a request` };
  if (p.htype !== 1 || p.hlen !== 6) return { pxe: false, reason: `hardware type ${p.htype}/length ${p.hlen} is not Ethernet` };
  const mac = formatChaddr(p.chaddr, 6);
  if (mac === "00:00:00:00:00:00" || mac === "ff:ff:ff:ff:ff:ff" || (p.chaddr[0]! & 1) !== 0)
    return { pxe: false, reason: `client hardware address ${mac} is not a unicast MAC` };
  const type = p.options.get(OPT.MESSAGE_TYPE);
  if (!type || type.length !== 1) return { pxe: false, reason: "no DHCP message type" };
  const vendor = p.options.get(OPT.VENDOR_CLASS);
  const vendorText = vendor ? latin1.decode(vendor) : "";
  const family = vendorFamily(vendorText);
  if (!family) return { pxe: false, reason: vendor ? `vendor class '${printable(vendorText)}' is not a PXE client` : "no vendor class: not a PXE client" };
  let kind: PxeRequest["kind"];
  if (type[0] === MSG.DISCOVER && port === "dhcp") kind = "discover";
  // On 4011 a PXE client asks the boot server for its file (PXE 2.1 §2.2.5, "BINL").
  else if ((type[0] === MSG.REQUEST || type[0] === MSG.INFORM) && port === "binl") kind = "request";
  // A REQUEST on 67 is the client taking the site's address: that server answers it, not us.
  else return { pxe: false, reason: `message type ${type[0]} on the ${port === "dhcp" ? "DHCP" : "boot server"} port is not ours to answer` };
  const { arch, archFrom } = clientArch(p.options.get(OPT.CLIENT_ARCH), vendorText);
  const userClass = userClassText(p.options.get(OPT.USER_CLASS));
  const ipxe = p.options.has(OPT.IPXE_ENCAP) || userClassNames(p.options.get(OPT.USER_CLASS)).includes("iPXE");
  const uuid = p.options.get(OPT.CLIENT_UUID);
  return {
    pxe: true,
    request: {
      kind,
      port,
      mac,
      xid: p.xid,
      vendorClass: family,
      arch,
      archFrom,
      ipxe,
      ...(userClass ? { userClass } : {}),
      ...(uuid && uuid.length === 17 ? { uuid } : {}),
      giaddr: p.giaddr,
      ciaddr: p.ciaddr,
    },
  };
}

/**
 * "PXEClient:Arch:00007:UNDI:003016", "HTTPClient:Arch:00016:…", and "HW-Client" (sent by some
 * boards' firmware in place of PXEClient, with no arch: treated as PXE).
 */
function vendorFamily(text: string): PxeRequest["vendorClass"] | undefined {
  if (text.startsWith("PXEClient")) return "PXEClient";
  if (text.startsWith("HTTPClient")) return "HTTPClient";
  if (text.startsWith("HW-Client")) return "PXEClient";
  return undefined;
}

function clientArch(opt93: Uint8Array | undefined, vendorText: string): Pick<PxeRequest, "arch" | "archFrom"> {
  // Option 93 may list several; the first is the one the firmware runs as.
  if (opt93 && opt93.length >= 2) return { arch: (opt93[0]! << 8) | opt93[1]!, archFrom: "option 93" };
  const m = /:Arch:(\d{5})/.exec(vendorText);
  if (m) return { arch: Number(m[1]), archFrom: "option 60" };
  return { arch: ARCH.BIOS, archFrom: "assumed" };
}

/**
 * User class names: iPXE sends the bare string "iPXE"; RFC 3004 clients send length-prefixed
 * names. Read both ways and keep whatever makes sense.
 */
function userClassNames(opt: Uint8Array | undefined): string[] {
  if (!opt || opt.length === 0) return [];
  const names = [latin1.decode(opt)];
  let i = 0;
  while (i < opt.length) {
    const len = opt[i]!;
    if (len === 0 || i + 1 + len > opt.length) break;
    names.push(latin1.decode(opt.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return names;
}

function userClassText(opt: Uint8Array | undefined): string | undefined {
  if (!opt || opt.length === 0) return undefined;
  return printable(latin1.decode(opt));
}

/** Client-chosen text goes to the log: keep it short and printable. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 64);
}
