/**
 * `pxeboot host which`'s dry run: what a boot of one host would get, step by step, from this
 * tree — the DHCP answer it needs, the loader and its companion (ldlinux, or shim's GRUB), the
 * config the loader's own search picks (pxelinux's in hosts.ts, GRUB's here), and the kernel and
 * initrds that config names — each checked: present, and readable by the user the server serves
 * as. Paths in a config are relative to the root.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { firstExisting, whichHost, type WhichStep } from "./hosts.ts";
import { formatIPv4, type IPv4, type Mac } from "./hexip.ts";
import { GRUB_DIR } from "./paths.ts";
import { grubEntry, pxelinuxEntry } from "./pxelinux-config.ts";

export type ChainArch = "bios" | "efi64" | "arm64";

export interface ChainFile {
  role: "loader" | "module" | "config" | "kernel" | "initrd";
  path: string;
  present: boolean;
  /** World-readable, or owned by the serving user (a server started as root serves as another user). */
  readable: boolean;
  size?: number;
}

export interface BootChain {
  arch: ChainArch;
  /** The boot file the DHCP answer must name for this architecture. */
  dhcpBootFile: string;
  search: WhichStep[];
  files: ChainFile[];
  /** What the chosen config does: "kernel …", "local disk", a menu, or why nothing boots. */
  outcome: string;
  append?: string;
}

/** The client architecture code (DHCP option 93) a firmware sends. */
const ARCH_CODE: Record<ChainArch, string> = { bios: "0", efi64: "7 or 9", arm64: "11" };

/** Each firmware's loader families, in the order `init`'s DHCP snippets and the proxy prefer them. */
const FAMILIES: Record<ChainArch, { kind: "grub" | "pxelinux"; file: string; module: string }[]> = {
  bios: [{ kind: "pxelinux", file: "pxelinux.0", module: "ldlinux.c32" }],
  efi64: [
    { kind: "grub", file: "shimx64.efi", module: "grubx64.efi" },
    { kind: "pxelinux", file: "syslinux.efi", module: "ldlinux.e64" },
  ],
  arm64: [{ kind: "grub", file: "shimaa64.efi", module: "grubaa64.efi" }],
};

function check(root: string, role: ChainFile["role"], path: string, servingUid?: number): ChainFile {
  try {
    const st = statSync(join(root, path));
    const readable = st.isFile() && ((st.mode & 0o004) !== 0 || (servingUid !== undefined && st.uid === servingUid && (st.mode & 0o400) !== 0));
    return { role, path, present: st.isFile(), readable, size: st.size };
  } catch {
    return { role, path, present: false, readable: false };
  }
}

export function bootChain(root: string, client: { ip?: IPv4; mac?: Mac; uuid?: string }, arch: ChainArch, servingUid?: number): BootChain {
  const families = FAMILIES[arch];
  const loader = families.find((f) => check(root, "loader", f.file).present && check(root, "module", f.module).present) ?? families[0]!;
  if (loader.kind === "grub") return grubChain(root, client, arch, loader, servingUid);
  const search = whichHost(root, client);
  const files: ChainFile[] = [check(root, "loader", loader.file, servingUid), check(root, "module", loader.module, servingUid)];
  const dhcp = `${loader.file} (client architecture ${ARCH_CODE[arch]})`;
  const chosen = search.find((s) => s.chosen);
  if (!chosen?.resolved) return { arch, dhcpBootFile: dhcp, search, files, outcome: "no config found: pxelinux stops here" };
  // The name the loader asks for (a link `host add` made), checked where it leads.
  files.push({ ...check(root, "config", chosen.resolved, servingUid), path: chosen.path });
  let text = "";
  try {
    text = readFileSync(join(root, chosen.resolved), "latin1");
  } catch {
    return { arch, dhcpBootFile: dhcp, search, files, outcome: `config ${chosen.resolved} cannot be read` };
  }
  const entry = pxelinuxEntry(text);
  if (entry.localBoot) return { arch, dhcpBootFile: dhcp, search, files, outcome: `boots the local disk (label ${entry.label})` };
  if (!entry.kernel) return { arch, dhcpBootFile: dhcp, search, files, outcome: entry.menu ? `menu ${entry.menu} with no default entry to follow` : "the config names no kernel" };
  files.push(check(root, "kernel", entry.kernel.replace(/^\/+/, ""), servingUid));
  for (const i of entry.initrds) files.push(check(root, "initrd", i.replace(/^\/+/, ""), servingUid));
  return { arch, dhcpBootFile: dhcp, search, files, outcome: `kernel ${entry.kernel}${entry.label ? ` (label ${entry.label})` : ""}`, append: entry.append };
}

/**
 * shim → GRUB: shim loads GRUB from beside itself, GRUB reads grub/grub.cfg (its built-in prefix
 * is /grub), which reads grub/mac-<mac>.cfg, then grub/ip-<ip>.cfg (links `host add` makes), and
 * otherwise returns to the firmware.
 */
function grubChain(root: string, client: { ip?: IPv4; mac?: Mac }, arch: ChainArch, loader: { file: string; module: string }, servingUid?: number): BootChain {
  const files: ChainFile[] = [check(root, "loader", loader.file, servingUid), check(root, "module", loader.module, servingUid)];
  const dhcpBootFile = `${loader.file} (client architecture ${ARCH_CODE[arch]})`;
  const candidates = [
    ...(client.mac ? [{ path: `${GRUB_DIR}/mac-${client.mac.toLowerCase()}.cfg`, why: "MAC ($net_default_mac)" }] : []),
    ...(client.ip !== undefined ? [{ path: `${GRUB_DIR}/ip-${formatIPv4(client.ip)}.cfg`, why: "IP ($net_default_ip)" }] : []),
  ];
  const search: WhichStep[] = [{ path: `${GRUB_DIR}/grub.cfg`, why: "GRUB's prefix (/grub)", exists: check(root, "config", `${GRUB_DIR}/grub.cfg`).present, chosen: false }];
  files.push(check(root, "config", `${GRUB_DIR}/grub.cfg`, servingUid));
  if (!search[0]!.exists) return { arch, dhcpBootFile, search, files, outcome: "no grub/grub.cfg: GRUB stops at its prompt" };
  // GRUB's configfile of a missing file goes on silently: the first one present is read.
  search.push(...firstExisting(root, candidates));
  const chosen = search.find((s) => s.chosen);
  const text = (() => {
    try {
      return readFileSync(join(root, chosen?.resolved ?? `${GRUB_DIR}/grub.cfg`), "latin1");
    } catch {
      return "";
    }
  })();
  if (chosen) files.push({ ...check(root, "config", chosen.resolved!, servingUid), path: chosen.path });
  const entry = grubEntry(text);
  if (!chosen || entry.localBoot) return { arch, dhcpBootFile, search, files, outcome: `boots the local disk (${chosen ? `the entry in ${chosen.resolved}` : "grub.cfg's fall-through"} exits to the firmware)` };
  if (!entry.kernel) return { arch, dhcpBootFile, search, files, outcome: `${chosen.resolved} names no kernel` };
  files.push(check(root, "kernel", entry.kernel.replace(/^\/+/, ""), servingUid));
  for (const i of entry.initrds) files.push(check(root, "initrd", i.replace(/^\/+/, ""), servingUid));
  return { arch, dhcpBootFile, search, files, outcome: `kernel ${entry.kernel}${entry.label ? ` (entry ${entry.label})` : ""}`, append: entry.append };
}
