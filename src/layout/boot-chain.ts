/**
 * `pxeboot host which`'s dry run: what a boot of one host would get, step by step, from this
 * tree — the DHCP answer it needs, the loader and its module, the config pxelinux's own search
 * picks (hosts.ts), and the kernel and initrds that config names — each checked: present,
 * and readable by the user the server serves as. Paths in a config are relative to the root.
 */
import { statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { whichHost, type WhichStep } from "./hosts.ts";
import type { IPv4, Mac } from "./hexip.ts";
import { pxelinuxEntry } from "./pxelinux-config.ts";

export type ChainArch = "bios" | "efi64";

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

const LOADERS: Record<ChainArch, { file: string; module: string }> = {
  bios: { file: "pxelinux.0", module: "ldlinux.c32" },
  efi64: { file: "syslinux.efi", module: "ldlinux.e64" },
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
  const loader = LOADERS[arch];
  const search = whichHost(root, client);
  const files: ChainFile[] = [check(root, "loader", loader.file, servingUid), check(root, "module", loader.module, servingUid)];
  const chosen = search.find((s) => s.chosen);
  if (!chosen?.resolved) return { arch, dhcpBootFile: loader.file, search, files, outcome: "no config found: pxelinux stops here" };
  files.push(check(root, "config", chosen.resolved, servingUid));
  let text = "";
  try {
    text = readFileSync(join(root, chosen.resolved), "latin1");
  } catch {
    return { arch, dhcpBootFile: loader.file, search, files, outcome: `config ${chosen.resolved} cannot be read` };
  }
  const entry = pxelinuxEntry(text);
  if (entry.localBoot) return { arch, dhcpBootFile: loader.file, search, files, outcome: `boots the local disk (label ${entry.label})` };
  if (!entry.kernel) return { arch, dhcpBootFile: loader.file, search, files, outcome: entry.menu ? `menu ${entry.menu} with no default entry to follow` : "the config names no kernel" };
  files.push(check(root, "kernel", entry.kernel.replace(/^\/+/, ""), servingUid));
  for (const i of entry.initrds) files.push(check(root, "initrd", i.replace(/^\/+/, ""), servingUid));
  return { arch, dhcpBootFile: loader.file, search, files, outcome: `kernel ${entry.kernel}${entry.label ? ` (label ${entry.label})` : ""}`, append: entry.append };
}
