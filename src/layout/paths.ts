/**
 * Where things live in a pxeboot tree. Every per-host name for every boot loader is derived
 * here, so `host add`, `host remove`, install-once and doctor can never disagree about them.
 *
 *   pxelinux.cfg/default                 local boot (the fallback)
 *   pxelinux.cfg/default.netboot-<p>     profile <p> for pxelinux/syslinux.efi
 *   pxelinux.cfg/C0A8000B, 01-<mac>      per-host links → default.netboot-<p>
 *   grub/grub.cfg, grub/netboot-<p>.cfg  GRUB (UEFI); per host grub/ip-<a.b.c.d>.cfg, grub/mac-<aa:bb:..>.cfg
 *   boot.ipxe, ipxe/netboot-<p>.ipxe     iPXE; per host ipxe/ip-<a.b.c.d>.ipxe, ipxe/mac-<aa-bb-..>.ipxe
 */
import { GRUB_DIR, IPXE_DIR, PXELINUX_DIR } from "../files/boot-control.ts";
import { formatIPv4, hexIpName, macName, type IPv4, type Mac } from "./hexip.ts";

// Named where uploads are fenced from them (files/boot-control.ts), so the two never disagree.
export { GRUB_DIR, IPXE_DIR, PXELINUX_DIR };
export const DEFAULT_MARKER = "Kickstart_end";
export const NETBOOT_PREFIX = "default.netboot-";
/** Install-once records; a dot directory so it stays out of the way of boot loaders. */
export const STATE_DIR = ".pxeboot/installed";

/** The three loader families whose per-host files pxeboot manages. */
export type Loader = "pxelinux" | "grub" | "ipxe";

/** A profile's config file for each loader, relative to the root. */
export function profileFile(loader: Loader, profile: string): string {
  if (loader === "pxelinux") return `${PXELINUX_DIR}/${NETBOOT_PREFIX}${profile}`;
  if (loader === "grub") return `${GRUB_DIR}/netboot-${profile}.cfg`;
  return `${IPXE_DIR}/netboot-${profile}.ipxe`;
}

/** The basename a per-host link points to (links are relative to their own directory). */
export function profileLinkTarget(loader: Loader, profile: string): string {
  return profileFile(loader, profile).split("/").pop()!;
}

/** Reads the profile back from a link target of any loader; undefined if it is not one. */
export function profileFromTarget(target: string): string | undefined {
  const base = target.split("/").pop()!;
  const m = /^default\.netboot-(.+)$/.exec(base) ?? /^netboot-(.+)\.(?:cfg|ipxe)$/.exec(base);
  return m?.[1];
}

export interface HostEntryName {
  loader: Loader;
  /** Path relative to the root. */
  path: string;
}

/** Every per-host file a host may have, for one IPv4 address. */
export function ipEntryNames(ip: IPv4): HostEntryName[] {
  const dotted = formatIPv4(ip);
  return [
    { loader: "pxelinux", path: `${PXELINUX_DIR}/${hexIpName(ip)}` },
    { loader: "grub", path: `${GRUB_DIR}/ip-${dotted}.cfg` },
    { loader: "ipxe", path: `${IPXE_DIR}/ip-${dotted}.ipxe` },
  ];
}

/** Every per-host file a host may have, for one MAC. */
export function macEntryNames(mac: Mac): HostEntryName[] {
  return [
    { loader: "pxelinux", path: `${PXELINUX_DIR}/${macName(mac)}` },
    // GRUB's $net_default_mac uses colons; iPXE's ${mac:hexhyp} uses dashes.
    { loader: "grub", path: `${GRUB_DIR}/mac-${mac}.cfg` },
    { loader: "ipxe", path: `${IPXE_DIR}/mac-${mac.replaceAll(":", "-")}.ipxe` },
  ];
}

/** Hand-written per-host files that install-once took away are kept here, not deleted. */
export const REMOVED_DIR = ".pxeboot/removed";

/** Which MAC each client address had at PXE time, learned from its own requests (see macs.ts). */
export const MAC_DIR = ".pxeboot/macs";

/** Held while one server takes a host's entries away (several servers may share the root). */
export const LOCK_DIR = ".pxeboot/locks";

export function lockFile(key: string): string {
  return `${LOCK_DIR}/${key}`;
}

/** The name of the install record kept for a host key (hex IP name or 01-mac name). */
export function stateFile(key: string): string {
  return `${STATE_DIR}/${key}`;
}

/** TFTP clients may send "/Kickstart_end" or "./Kickstart_end"; compare without that. */
export function normalizeRelative(p: string): string {
  return p.replace(/^(?:\.?\/)+/, "");
}
