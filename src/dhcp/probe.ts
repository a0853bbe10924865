/**
 * Who answers a PXE client on this segment: one DISCOVER, shaped as a firmware's (option 60
 * PXEClient, 93, 94, 97), and every OFFER that comes back read as a responder. Two servers that
 * both hand out a boot file race for every machine (the firmware takes whichever answer it
 * likes first), so a second boot server is worth finding before a farm is switched over. Pure:
 * the socket side is probe-socket.ts.
 */
import { BOOTREPLY, BOOTREQUEST, MSG, OPT, buildDhcp, parseDhcp } from "./packet.ts";

/** Architectures a probe can pose as (option 93), with the vendor class such firmware sends. */
export const PROBE_ARCHES = { bios: 0, efi64: 7, arm64: 11, http: 16 } as const;
export type ProbeArch = keyof typeof PROBE_ARCHES;

export interface ProbeRequest {
  /** The interface's own MAC: a made-up one would be a stranger to a DHCP server with reservations. */
  mac: Uint8Array;
  xid: number;
  arch: ProbeArch;
}

/** One server that answered the probe. */
export interface Responder {
  /** The datagram's source address. */
  from: string;
  /** Option 54, or the source when absent. */
  serverId: string;
  /** An address offered (yiaddr): a DHCP server; none: a proxyDHCP. */
  offersAddress?: string;
  /** The boot file: the file field or option 67; undefined when it names none. */
  bootFile?: string;
  /** Where the boot file is to be fetched (siaddr or option 66), when it says. */
  nextServer?: string;
  /** Option 60 named back (PXEClient / HTTPClient): it speaks PXE. */
  vendorClass?: string;
  /** Option 43 with PXE boot-server or menu sub-options (dnsmasq's proxy mode answers with a menu, no file). */
  pxeMenu: boolean;
  /** What it is, for the report. */
  role: "dhcp" | "dhcp+pxe" | "proxy-pxe";
}

const latin1 = new TextDecoder("latin1");
const text = (b: Uint8Array | undefined) => (b ? latin1.decode(b).replace(/\0+$/, "") : undefined);

export function probeDiscover(req: ProbeRequest): Uint8Array {
  const arch = PROBE_ARCHES[req.arch];
  const family = req.arch === "http" ? "HTTPClient" : "PXEClient";
  const archDigits = String(arch).padStart(5, "0");
  const chaddr = new Uint8Array(16);
  chaddr.set(req.mac.subarray(0, 6));
  const uuid = new Uint8Array(17);
  uuid.set(req.mac.subarray(0, 6), 1);
  const options = new Map<number, Uint8Array>([
    [OPT.MESSAGE_TYPE, Uint8Array.of(MSG.DISCOVER)],
    [OPT.PARAMETER_LIST, Uint8Array.of(1, 3, 43, 54, 60, 66, 67, 97)],
    [OPT.CLIENT_ARCH, Uint8Array.of(arch >> 8, arch & 255)],
    [OPT.CLIENT_NDI, Uint8Array.of(1, 3, 16)],
    [OPT.CLIENT_UUID, uuid],
    [OPT.VENDOR_CLASS, new TextEncoder().encode(`${family}:Arch:${archDigits}:UNDI:003016`)],
  ]);
  return buildDhcp({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: req.xid >>> 0,
    secs: 0,
    // Broadcast: the probe has no address the answer could be sent to.
    flags: 0x8000,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr,
    sname: "",
    file: "",
    options,
  });
}

/** PXE option 43 sub-options that describe boot servers or a menu (PXE 2.1 §2.4.6). */
const PXE_MENU_SUBOPTIONS = new Set([8, 9, 10]);

function hasPxeMenu(opt43: Uint8Array | undefined): boolean {
  if (!opt43) return false;
  for (let i = 0; i + 1 < opt43.length; ) {
    const code = opt43[i]!;
    if (code === OPT.END) break;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (PXE_MENU_SUBOPTIONS.has(code)) return true;
    i += 2 + opt43[i + 1]!;
  }
  return false;
}

/** An answer to our probe read as a responder; undefined for anything that is not one (other xid, not an OFFER, malformed). */
export function readOffer(bytes: Uint8Array, from: string, req: ProbeRequest): Responder | undefined {
  const parsed = parseDhcp(bytes);
  if (!parsed.ok) return undefined;
  const p = parsed.packet;
  if (p.op !== BOOTREPLY || p.xid !== req.xid >>> 0) return undefined;
  for (let i = 0; i < 6; i++) if (p.chaddr[i] !== req.mac[i]) return undefined;
  const type = p.options.get(OPT.MESSAGE_TYPE);
  if (!type || type[0] !== MSG.OFFER) return undefined;
  const id = p.options.get(OPT.SERVER_ID);
  const serverId = id && id.length === 4 ? `${id[0]}.${id[1]}.${id[2]}.${id[3]}` : from;
  const offersAddress = p.yiaddr !== "0.0.0.0" ? p.yiaddr : undefined;
  const bootFile = p.file || text(p.options.get(OPT.BOOTFILE)) || undefined;
  const nextServer = p.siaddr !== "0.0.0.0" ? p.siaddr : text(p.options.get(OPT.TFTP_SERVER)) || undefined;
  const vendorClass = text(p.options.get(OPT.VENDOR_CLASS));
  const pxeMenu = hasPxeMenu(p.options.get(OPT.VENDOR_SPECIFIC));
  // Option 60 alone from a DHCP server is the 4011 arrangement (ask the boot server there), not a boot offer.
  const bootsPxe = bootFile !== undefined || pxeMenu;
  const role: Responder["role"] = offersAddress ? (bootsPxe ? "dhcp+pxe" : "dhcp") : "proxy-pxe";
  return {
    from,
    serverId,
    ...(offersAddress ? { offersAddress } : {}),
    ...(bootFile ? { bootFile } : {}),
    ...(nextServer ? { nextServer } : {}),
    ...(vendorClass ? { vendorClass } : {}),
    pxeMenu,
    role,
  };
}

export interface ProbeFinding {
  severity: "ok" | "warning" | "problem";
  message: string;
  fix?: string;
}

/**
 * What the answers mean for a farm that boots from `ours` (the addresses of this host's served
 * interfaces): one DHCP server and at most one boot server is the working setup; a second boot
 * server races ours; no DHCP server at all means the firmware gets no address.
 */
export function judgeResponders(responders: Responder[], ours: string[]): ProbeFinding[] {
  const out: ProbeFinding[] = [];
  const seen = new Set<string>();
  const unique = responders.filter((r) => {
    const key = `${r.serverId}/${r.from}/${r.offersAddress ?? ""}/${r.bootFile ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const isOurs = (r: Responder) => ours.includes(r.serverId) || ours.includes(r.from);
  // The site's DHCP server given `pxeboot init`'s snippet sends machines here: that is ours too.
  const pointsHere = (r: Responder) => isOurs(r) || (r.nextServer !== undefined && ours.includes(r.nextServer)) || ours.includes(urlHost(r.bootFile) ?? "");
  const dhcp = unique.filter((r) => r.offersAddress);
  const bootServers = unique.filter((r) => r.role !== "dhcp");
  const foreignBoot = bootServers.filter((r) => !pointsHere(r));
  for (const r of unique) out.push({ severity: "ok", message: describeResponder(r, isOurs(r)) });
  if (dhcp.length === 0)
    out.push({
      severity: "problem",
      message: "no DHCP server offered an address: PXE firmware will not get one, with or without a proxy",
      fix: "check that the site's DHCP server serves this segment (or a relay forwards to it)",
    });
  if (foreignBoot.length > 0) {
    const who = foreignBoot.map((r) => `${r.serverId} (${r.bootFile ?? (r.pxeMenu ? "a PXE menu" : "PXE")})`).join(", ");
    out.push({
      severity: "warning",
      message:
        foreignBoot.length < bootServers.length
          ? `another PXE boot server answers on this segment: ${who}; each machine boots from whichever answer its firmware takes`
          : `PXE machines here are sent to another boot server: ${who}, not to this host`,
      fix: "remove the boot options from that server (next-server/filename, option 60 PXEClient, dhcp-boot/pxe-service), or restrict it to other hosts",
    });
  }
  if (bootServers.length === 0)
    out.push({
      severity: "warning",
      message: "no server offered a boot file: PXE firmware will find nothing to boot",
      fix: "run pxeboot serve --proxy-dhcp IFACE here, or give the site's DHCP server the snippet `pxeboot init` prints",
    });
  return out;
}

function urlHost(file: string | undefined): string | undefined {
  const m = file ? /^[a-z]+:\/\/\[?([^\]/:]+)/i.exec(file) : null;
  return m?.[1];
}

function describeResponder(r: Responder, ours: boolean): string {
  const who = `${r.serverId}${r.from !== r.serverId ? ` (from ${r.from})` : ""}${ours ? ", this host" : ""}`;
  const parts = [
    r.role === "dhcp" ? "DHCP server, no boot file" : r.role === "dhcp+pxe" ? "DHCP server with PXE boot options" : "proxyDHCP (PXE boot only, no address)",
    r.offersAddress ? `offers ${r.offersAddress}` : undefined,
    r.bootFile ? `boot file ${r.bootFile}` : r.pxeMenu ? "a PXE boot menu (option 43)" : undefined,
    r.nextServer ? `next server ${r.nextServer}` : undefined,
    r.role === "dhcp" && r.vendorClass === "PXEClient" ? "option 60 PXEClient (PXE clients ask a boot server on port 4011)" : undefined,
  ].filter(Boolean);
  return `${who}: ${parts.join(", ")}`;
}
