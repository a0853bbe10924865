/**
 * What decides which host boots what, by name: the loaders' config directories, the per-host
 * and config names the loaders search for, iPXE scripts, and the programs firmware runs. Uploads
 * never write any of these (confine-upload.ts) unless a --writable directory opens one: a name
 * a loader searches before the tree's own entries (pxelinux asks for its UUID, 01-<mac> and hex
 * IP names before `default`, GRUB for grub.cfg-01-<mac> before grub.cfg) would let anyone on the
 * segment choose another host's next boot.
 *
 * Pure functions over root-relative names, matched whatever their case: a tree on a
 * case-insensitive file system (a CIFS or FAT export) finds "PXELINUX.CFG/01-…" as the real
 * entry. The layout's directory names come from here (layout/paths.ts), and a test checks that
 * every per-host name the layout writes is fenced, so the two cannot drift apart.
 */
import { PRIVATE_DIR } from "./confine.ts";

export const PXELINUX_DIR = "pxelinux.cfg";
export const GRUB_DIR = "grub";
export const IPXE_DIR = "ipxe";

/**
 * Directories whose every file steers a boot, wherever they sit: a tree unpacked from an
 * installer has debian-installer/amd64/pxelinux.cfg/ and …/grub/, and GRUB loads modules from
 * grub/x86_64-efi/. The state directory holds install records and learned MACs.
 */
export const BOOT_CONTROL_DIRS = [PXELINUX_DIR, GRUB_DIR, IPXE_DIR, PRIVATE_DIR] as const;

const CONTROL_DIR_BY_LOWER = new Map<string, string>(BOOT_CONTROL_DIRS.map((d) => [d.toLowerCase(), d]));

const HEX2 = "[0-9a-f]{2}";
const MAC_FORMS = `(?:${HEX2}(?::${HEX2}){5}|${HEX2}(?:-${HEX2}){5}|[0-9a-f]{12})`;

/** File names that are boot control in any directory, with what each is (for the log). */
const CONTROL_NAMES: { what: string; test: RegExp; perHost?: true }[] = [
  // The ARP hardware type, then the address: 01-<mac> for Ethernet, 20-… (20 bytes) for InfiniBand.
  { what: "pxelinux's per-host name for a hardware address", test: new RegExp(`^${HEX2}(?:-${HEX2}){6,}$`, "i"), perHost: true },
  { what: "pxelinux's per-host name for a machine UUID", test: /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i, perHost: true },
  { what: "pxelinux's name for an IPv4 address or subnet (hex)", test: /^[0-9a-f]{1,8}$/i, perHost: true },
  // iPXE scripts chain ${mac}.ipxe, ${mac:hexhyp}.cfg and the like; init writes mac-<mac>.cfg.
  { what: "a per-host name for a MAC", test: new RegExp(`^(?:mac-)?${MAC_FORMS}(?:\\.[^.]+)?$`, "i"), perHost: true },
  { what: "a per-host name for an IPv4 address", test: /^ip-\d{1,3}(?:\.\d{1,3}){3}\.(?:cfg|ipxe)$/i, perHost: true },
  // GRUB's network search: grub.cfg-01-<mac>, grub.cfg-<hex IP>…, then grub.cfg.
  { what: "GRUB's config name", test: /^grub\.cfg-.+$/i, perHost: true },
  { what: "GRUB's config name", test: /^grub\.cfg$/i },
  { what: "an iPXE script", test: /\.ipxe$/i },
  // What DHCP names or a loader chains: created where it is missing, it runs on the next boot.
  { what: "a boot program", test: /(?:\.(?:efi|efi\.signed|c32|e32|e64|kpxe|kkpxe|kkkpxe|pxe|lkrn)|pxelinux\.0)$/i },
];

/** What uploads never write, in a line (the start-up log). */
export const BOOT_CONTROL_SUMMARY = `${BOOT_CONTROL_DIRS.map((d) => `${d}/`).join(" ")}, per-host config names, GRUB configs, iPXE scripts, boot programs`;

/** The boot-control directory `rel` is in or names ("pxelinux.cfg"), if any of its parts is one. */
export function controlDirOf(rel: string): string | undefined {
  for (const part of rel.split("/")) {
    const dir = CONTROL_DIR_BY_LOWER.get(part.toLowerCase());
    if (dir) return dir;
  }
  return undefined;
}

/**
 * Whether a file name names one host (an address, a MAC, a UUID): as many as there are hosts,
 * so counted together where names are counted one by one (metrics).
 */
export function isPerHostName(name: string): boolean {
  return CONTROL_NAMES.some((n) => n.perHost && n.test.test(name));
}

/** What a file name is to a boot loader, when it is boot control in any directory. */
export function controlNameOf(name: string): string | undefined {
  return CONTROL_NAMES.find((n) => n.test.test(name))?.what;
}

/**
 * Why a file at `rel` (root-relative) would steer a boot, for the log ("in pxelinux.cfg/", "an
 * iPXE script"); undefined when it would not. Only the name is read: a directory that is boot
 * control through a link is the caller's to find.
 */
export function bootControlReason(rel: string): string | undefined {
  const dir = controlDirOf(rel);
  return dir ? `in ${dir}/` : controlNameOf(rel.slice(rel.lastIndexOf("/") + 1));
}
