/**
 * `pxeboot host which`'s dry run: what a boot of one host would get, step by step, from this
 * tree — the DHCP answer it needs (the boot file the proxyDHCP offers, from boot-files.ts), the
 * loader and its companion (ldlinux, or shim's GRUB), the config the loader's own search picks
 * (pxelinux's in hosts.ts, GRUB's here, iPXE's the `chain` lines of the tree's boot.ipxe), and
 * the kernel and initrds that config names — each checked: present, and readable by the user the
 * server serves as. Paths in a config are relative to the root.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BOOT_FILES, NEEDS, usableBootFiles, type BootFamily } from "./boot-files.ts";
import { firstExisting, whichHost, type WhichStep } from "./hosts.ts";
import { formatIPv4, type IPv4, type Mac } from "./hexip.ts";
import { GRUB_DIR } from "./paths.ts";
import { expandIpxe, grubEntry, ipxeChains, ipxeEntry, pxelinuxEntry, type IpxeSettings, type PxelinuxEntry } from "./pxelinux-config.ts";

/** The firmware `host which --arch` names; `http` and `http-arm64` are UEFI HTTP Boot. */
export const CHAIN_ARCHES = ["bios", "efi64", "arm64", "http", "http-arm64"] as const;
export type ChainArch = (typeof CHAIN_ARCHES)[number];

/** How a file travels: "tftp or http" where the DHCP answer decides (a path or a URL). */
export type ChainVia = "tftp" | "http" | "tftp or http";

export interface ChainFile {
  role: "loader" | "module" | "config" | "kernel" | "initrd";
  path: string;
  present: boolean;
  /** World-readable, or owned by the serving user (a server started as root serves as another user). */
  readable: boolean;
  size?: number;
  via: ChainVia;
}

/** One DHCP answer the boot needs: the firmware's, then iPXE's own where the loader is iPXE. */
export interface DhcpAnswer {
  /** Who asks: "the firmware (client architecture 0)", "iPXE (user class iPXE)". */
  asker: string;
  /** The boot file (a path) or URL the answer must name. */
  bootFile: string;
  /** What else the answer needs ("this server as next-server", option 60 `HTTPClient`). */
  needs: string;
}

export interface BootChain {
  arch: ChainArch;
  /** The client is iPXE already (a flashed ROM, or a chained iPXE asking again). */
  ipxe: boolean;
  /** The boot file (or URL) the first DHCP answer must name. */
  dhcpBootFile: string;
  dhcp: DhcpAnswer[];
  search: WhichStep[];
  files: ChainFile[];
  /** What the chosen config does: "kernel …", "local disk", a menu, or why nothing boots. */
  outcome: string;
  append?: string;
}

/** Each firmware: the client architecture (DHCP option 93) it sends, the boot files it is offered, whether over HTTP. */
const FIRMWARE: Record<ChainArch, { code: string; family: BootFamily; http: boolean; platform: string; buildarch: string }> = {
  bios: { code: "0", family: "bios", http: false, platform: "pcbios", buildarch: "i386" },
  efi64: { code: "7 or 9", family: "uefiX64", http: false, platform: "efi", buildarch: "x86_64" },
  arm64: { code: "11", family: "uefiArm64", http: false, platform: "efi", buildarch: "arm64" },
  http: { code: "16", family: "httpX64", http: true, platform: "efi", buildarch: "x86_64" },
  "http-arm64": { code: "19", family: "httpArm64", http: true, platform: "efi", buildarch: "arm64" },
};

/** What each boot file runs next; its companion is NEEDS' (what the proxy checks), else the one named here. */
const RUNS: Record<string, { kind: "pxelinux" | "grub" | "ipxe"; module?: string }> = {
  "pxelinux.0": { kind: "pxelinux", module: "ldlinux.c32" },
  "syslinux.efi": { kind: "pxelinux" },
  "shimx64.efi": { kind: "grub" },
  "shimaa64.efi": { kind: "grub" },
  // The installer's shim, loading the grubaa64.efi beside it.
  "bootnetaa64.efi": { kind: "grub", module: "grubaa64.efi" },
  "grubaa64.efi": { kind: "grub" },
  "undionly.kpxe": { kind: "ipxe" },
  "ipxe.efi": { kind: "ipxe" },
  "ipxe-arm64.efi": { kind: "ipxe" },
};

/** The placeholder for `serve --http`'s address in URLs (the tree does not know it). */
const HTTP_BASE = "http://SERVER:PORT";

function check(root: string, role: ChainFile["role"], path: string, via: ChainVia, servingUid?: number): ChainFile {
  try {
    const st = statSync(join(root, path));
    const readable = st.isFile() && ((st.mode & 0o004) !== 0 || (servingUid !== undefined && st.uid === servingUid && (st.mode & 0o400) !== 0));
    return { role, path, present: st.isFile(), readable, size: st.size, via };
  } catch {
    return { role, path, present: false, readable: false, via };
  }
}

type Client = { ip?: IPv4; mac?: Mac; uuid?: string };

/**
 * The dry run for a client of firmware `arch`; with `ipxe`, the client is iPXE already (its DHCP
 * request says so: user class `iPXE`, option 175) and gets the iPXE script straight away.
 */
export function bootChain(root: string, client: Client, arch: ChainArch, servingUid?: number, opts: { ipxe?: boolean } = {}): BootChain {
  const fw = FIRMWARE[arch];
  if (opts.ipxe) return ipxeChain(root, client, arch, servingUid, { dhcp: [], files: [], via: fw.http ? "http" : "tftp or http" });
  const file = usableBootFiles(fw.family, (f) => check(root, "loader", f, "tftp").present)[0] ?? BOOT_FILES[fw.family][0];
  const via: ChainVia = fw.http ? "http" : "tftp";
  const run = RUNS[file] ?? { kind: "ipxe" };
  const module = NEEDS[file] ?? run.module;
  const dhcp: DhcpAnswer[] = [
    fw.http
      ? { asker: `the firmware (HTTP Boot, client architecture ${fw.code})`, bootFile: `${HTTP_BASE}/${file}`, needs: "option 60 HTTPClient; serve --http PORT serves it" }
      : { asker: `the firmware (client architecture ${fw.code})`, bootFile: file, needs: "this server as next-server" },
  ];
  const files = [check(root, "loader", file, via, servingUid), ...(module ? [check(root, "module", module, via, servingUid)] : [])];
  const start = { dhcp, files, via };
  if (run.kind === "grub") return grubChain(root, client, arch, servingUid, start);
  if (run.kind === "ipxe") return ipxeChain(root, client, arch, servingUid, start);
  return pxelinuxChain(root, client, arch, servingUid, start);
}

/** What the chain has got so far: the DHCP answers and the files fetched before the config search. */
interface ChainStart {
  dhcp: DhcpAnswer[];
  files: ChainFile[];
  via: ChainVia;
}

function chain(arch: ChainArch, start: ChainStart, search: WhichStep[], outcome: string, ipxe = false, append?: string): BootChain {
  return { arch, ipxe, dhcpBootFile: start.dhcp[0]?.bootFile ?? "", dhcp: start.dhcp, search, files: start.files, outcome, ...(append !== undefined ? { append } : {}) };
}

function readText(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "latin1");
  } catch {
    return undefined;
  }
}

/** The kernel and initrd files an entry names, paths relative to the root. */
function entryFiles(root: string, entry: PxelinuxEntry, via: ChainVia, servingUid?: number): ChainFile[] {
  return [
    ...(entry.kernel ? [check(root, "kernel", entry.kernel.replace(/^\/+/, ""), via, servingUid)] : []),
    ...entry.initrds.map((i) => check(root, "initrd", i.replace(/^\/+/, ""), via, servingUid)),
  ];
}

/** pxelinux.0 or syslinux.efi: pxelinux's own search (hosts.ts), then the DEFAULT label's entry. */
function pxelinuxChain(root: string, client: Client, arch: ChainArch, servingUid: number | undefined, start: ChainStart): BootChain {
  const search = whichHost(root, client);
  const chosen = search.find((s) => s.chosen);
  if (!chosen?.resolved) return chain(arch, start, search, "no config found: pxelinux stops here");
  // The name the loader asks for (a link `host add` made), checked where it leads.
  start.files.push({ ...check(root, "config", chosen.resolved, start.via, servingUid), path: chosen.path });
  const text = readText(root, chosen.resolved);
  if (text === undefined) return chain(arch, start, search, `config ${chosen.resolved} cannot be read`);
  const entry = pxelinuxEntry(text);
  if (entry.localBoot) return chain(arch, start, search, `boots the local disk (label ${entry.label})`);
  if (!entry.kernel) return chain(arch, start, search, entry.menu ? `menu ${entry.menu} with no default entry to follow` : "the config names no kernel");
  start.files.push(...entryFiles(root, entry, start.via, servingUid));
  return chain(arch, start, search, `kernel ${entry.kernel}${entry.label ? ` (label ${entry.label})` : ""}`, false, entry.append);
}

/**
 * shim → GRUB: shim loads GRUB from beside itself, GRUB reads grub/grub.cfg (its built-in prefix
 * is /grub), which reads grub/mac-<mac>.cfg, then grub/ip-<ip>.cfg (links `host add` makes), and
 * otherwise returns to the firmware. Loaded over HTTP, GRUB asks the same names over HTTP.
 */
function grubChain(root: string, client: Client, arch: ChainArch, servingUid: number | undefined, start: ChainStart): BootChain {
  const { files, via } = start;
  const candidates = [
    ...(client.mac ? [{ path: `${GRUB_DIR}/mac-${client.mac.toLowerCase()}.cfg`, why: "MAC ($net_default_mac)" }] : []),
    ...(client.ip !== undefined ? [{ path: `${GRUB_DIR}/ip-${formatIPv4(client.ip)}.cfg`, why: "IP ($net_default_ip)" }] : []),
  ];
  const search: WhichStep[] = [{ path: `${GRUB_DIR}/grub.cfg`, why: "GRUB's prefix (/grub)", exists: check(root, "config", `${GRUB_DIR}/grub.cfg`, via).present, chosen: false }];
  files.push(check(root, "config", `${GRUB_DIR}/grub.cfg`, via, servingUid));
  if (!search[0]!.exists) return chain(arch, start, search, "no grub/grub.cfg: GRUB stops at its prompt");
  // GRUB's configfile of a missing file goes on silently: the first one present is read.
  search.push(...firstExisting(root, candidates));
  const chosen = search.find((s) => s.chosen);
  const text = readText(root, chosen?.resolved ?? `${GRUB_DIR}/grub.cfg`) ?? "";
  if (chosen) files.push({ ...check(root, "config", chosen.resolved!, via, servingUid), path: chosen.path });
  const entry = grubEntry(text);
  if (!chosen || entry.localBoot)
    return chain(arch, start, search, `boots the local disk (${chosen ? `the entry in ${chosen.resolved}` : "grub.cfg's fall-through"} exits to the firmware)`);
  if (!entry.kernel) return chain(arch, start, search, `${chosen.resolved} names no kernel`);
  files.push(...entryFiles(root, entry, via, servingUid));
  return chain(arch, start, search, `kernel ${entry.kernel}${entry.label ? ` (entry ${entry.label})` : ""}`, false, entry.append);
}

/**
 * A URI in an iPXE script, resolved as iPXE does against the script's own URI, as a path in the
 * tree and how it travels (an absolute http:// URL is HTTP whatever brought the script).
 */
function ipxePath(uri: string, scriptPath: string, scriptVia: ChainVia): { path: string; via: ChainVia } {
  const base = `${scriptVia === "http" ? "http" : "tftp"}://next-server/${scriptPath}`;
  try {
    const u = new URL(uri, base);
    const via: ChainVia = u.protocol === "http:" || u.protocol === "https:" ? "http" : /^[a-z][a-z0-9+.-]*:/i.test(uri) ? "tftp" : scriptVia;
    return { path: decodeURIComponent(u.pathname).replace(/^\/+/, ""), via };
  } catch {
    return { path: uri.replace(/^\/+/, ""), via: scriptVia };
  }
}

/** What a `${…}` setting in a per-host script name stands for, for the search listing. */
function settingWhy(raw: string): string {
  const vars = raw.match(/\$\{[^}]+\}/g) ?? [];
  const kind = vars.some((v) => /mac/.test(v)) ? "MAC" : vars.some((v) => /\bip\}/.test(v)) ? "IP" : vars.some((v) => /uuid/.test(v)) ? "UUID" : "chain";
  return vars.length ? `${kind} (${vars.join(" ")})` : kind;
}

/**
 * iPXE (a ROM, or undionly.kpxe/ipxe.efi chained): it asks DHCP again, as iPXE, and gets the
 * script (boot.ipxe); the script's `chain` lines are its per-host search (init's: the MAC's, then
 * the IP's script), each URI resolved against the script's; the first that exists is run, and
 * its kernel and initrds are fetched. None found: the script's fall-through (the local disk).
 */
function ipxeChain(root: string, client: Client, arch: ChainArch, servingUid: number | undefined, start: ChainStart): BootChain {
  const fw = FIRMWARE[arch];
  const script = usableBootFiles("ipxe", (f) => check(root, "config", f, "tftp").present)[0] ?? BOOT_FILES.ipxe[0];
  // iPXE over HTTP Boot came by HTTP, and serve --http runs: the snippets and the proxy then answer with the URL.
  const scriptVia: ChainVia = fw.http || start.via === "http" ? "http" : "tftp or http";
  start.dhcp.push({
    asker: "iPXE (user class iPXE, option 175)",
    bootFile: scriptVia === "http" ? `${HTTP_BASE}/${script}` : `${script} (or ${HTTP_BASE}/${script} where serve --http runs)`,
    needs: scriptVia === "http" ? "serve --http PORT serves it" : "this server as next-server for the path",
  });
  const search: WhichStep[] = [{ path: script, why: "the DHCP answer", exists: check(root, "config", script, scriptVia).present, chosen: false }];
  start.files.push(check(root, "config", script, scriptVia, servingUid));
  const text = readText(root, script);
  if (text === undefined) return chain(arch, start, search, `no ${script}: iPXE has no script to run`, true);
  const settings: IpxeSettings = {
    ...(client.mac ? { mac: client.mac.toLowerCase() } : {}),
    ...(client.ip !== undefined ? { ip: formatIPv4(client.ip) } : {}),
    ...(client.uuid ? { uuid: client.uuid } : {}),
    platform: fw.platform,
    buildarch: fw.buildarch,
  };
  const candidates = ipxeChains(text).map((raw) => {
    const { text: uri, unknown } = expandIpxe(raw, settings);
    const why = `${settingWhy(raw)}${unknown.length ? `, ${unknown.join(" ")} unknown: give --mac/--ip/--uuid` : ""}`;
    return { ...ipxePath(uri, script, scriptVia), why };
  });
  search.push(...firstExisting(root, candidates));
  const chosenAt = search.findIndex((s) => s.chosen);
  const chosen = search[chosenAt];
  if (!chosen) {
    const fall = ipxeEntry(expandIpxe(text, settings).text, true);
    return chain(arch, start, search, fall.localBoot ? `boots the local disk (${script} found no per-host script)` : `${script} found no per-host script and names nothing after its search`, true);
  }
  const chosenVia = candidates[chosenAt - 1]!.via;
  start.files.push({ ...check(root, "config", chosen.resolved!, chosenVia, servingUid), path: chosen.path });
  const hostText = readText(root, chosen.resolved!);
  if (hostText === undefined) return chain(arch, start, search, `script ${chosen.resolved} cannot be read`, true);
  const entry = ipxeEntry(expandIpxe(hostText, settings).text);
  if (entry.localBoot) return chain(arch, start, search, `boots the local disk (${chosen.resolved} sanboots or exits)`, true);
  if (!entry.kernel) return chain(arch, start, search, `${chosen.resolved} names no kernel`, true);
  // Relative to the URI iPXE fetched the script by: the per-host name, not the profile it links to.
  const at = (uri: string, role: "kernel" | "initrd") => {
    const p = ipxePath(uri, chosen.path, chosenVia);
    return check(root, role, p.path, p.via, servingUid);
  };
  start.files.push(at(entry.kernel, "kernel"), ...entry.initrds.map((i) => at(i, "initrd")));
  return chain(arch, start, search, `kernel ${entry.kernel}`, true, entry.append);
}
