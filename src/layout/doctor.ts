/**
 * `pxeboot doctor`: the checks a seasoned admin runs on a tftproot before blaming the network.
 * Each finding is one line with its fix. Problems stop hosts from booting (non-zero exit);
 * warnings are worth knowing but a fresh `pxeboot init` tree may have them.
 */
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { isTempName } from "./atomic.ts";
import { decodeHexName, formatIPv4 } from "./hexip.ts";
import { resolveInside } from "./hosts.ts";
import { LOADER_FILES, installHint } from "./loaders.ts";
import { builtinSyslinuxBuild, compareTreeLoaders, installedSyslinuxBuild, mismatchedSyslinuxFiles, SYSLINUX_BIOS_SET, type SyslinuxBuild } from "../loaders/tree-loaders.ts";
import { BOOT_CONTROL_DIRS } from "../files/boot-control.ts";
import { GRUB_DIR, IPXE_DIR, LOCK_DIR, PXELINUX_DIR, STATE_DIR } from "./paths.ts";
import { bootControlOwner, ownershipFix, probeInstallDirs, unwritableInstallDirs, type Identity } from "./writable.ts";

export type Severity = "problem" | "warning";

export interface Finding {
  severity: Severity;
  /** Relative to the root ("." for the root itself). */
  path: string;
  message: string;
  fix: string;
}

/** Blocks a TFTP block number can count before it wraps. */
const MAX_BLOCKS = 65535;
/** The walk stops here: a tftproot with more entries is almost surely a mistake (e.g. "/"). */
const MAX_ENTRIES = 200_000;

interface Entry {
  rel: string;
  isLink: boolean;
  isFile: boolean;
  size: number;
}

function walk(root: string): Entry[] {
  const out: Entry[] = [];
  const stack = [""];
  while (stack.length && out.length < MAX_ENTRIES) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const rel = dir ? `${dir}/${name}` : name;
      let st;
      try {
        st = lstatSync(join(root, rel));
      } catch {
        continue;
      }
      out.push({ rel, isLink: st.isSymbolicLink(), isFile: st.isFile(), size: st.size });
      if (st.isDirectory()) stack.push(rel);
    }
  }
  return out;
}

function readable(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    try {
      readSync(fd, Buffer.alloc(1), 0, 1, 0);
    } finally {
      closeSync(fd);
    }
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

export interface CheckOptions {
  /** The user `serve` serves clients as (--user, default tftp): it must not be able to change boot control. */
  user?: Identity;
  /** Who runs doctor: a non-root uid is checked as a server started as itself would be. */
  uid?: number;
  /** Where installed syslinux packages are looked for, to tell which build a tree's ldlinux.c32 is (default /). */
  sysroot?: string;
}

export function checkTree(root: string, opts: CheckOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Severity, path: string, message: string, fix: string) =>
    findings.push({ severity, path, message, fix });
  try {
    if (!statSync(root).isDirectory()) throw new Error("not a directory");
  } catch {
    add("problem", ".", `${root} is not a directory`, `create the tree with: pxeboot init ${root}`);
    return findings;
  }
  checkLoaders(root, add);
  checkLoaderBuilds(root, opts.sysroot ?? "/", add);
  const entries = walk(root);
  if (entries.length >= MAX_ENTRIES)
    add("warning", ".", `more than ${MAX_ENTRIES} entries, stopped looking`, "point doctor at the tftproot itself");
  const inUse = checkEntries(root, entries, add);
  checkReferences(root, inUse, add);
  checkSizes(entries, add);
  if (existsSync(join(root, PXELINUX_DIR))) checkInstallOnceWriter(root, opts, add);
  return findings;
}

/**
 * Install-once for every way of starting `serve`. Started as root it switches hosts as the owner
 * of pxelinux.cfg/ (daemon/switch-process.ts): that owner must be able to write every directory
 * install-once touches, and the user serving clients must not be it. Started as a user (doctor
 * run as that user), that user must write them itself.
 */
function checkInstallOnceWriter(root: string, opts: CheckOptions, add: Add): void {
  const owner = bootControlOwner(root);
  const asOwner = { name: `uid ${owner.uid}`, uid: owner.uid, gid: owner.gid };
  for (const b of unwritableInstallDirs(root, asOwner))
    add(
      "problem",
      b.dir,
      `not writable by uid ${owner.uid}, the owner of ${owner.dir}/ as whom serve (started as root) switches hosts (now ${b.now}): hosts would install again`,
      b.now.startsWith(`${owner.uid}:`) ? `chmod u+wx ${join(root, b.dir)}` : `chown ${owner.uid}:${owner.gid} ${join(root, b.dir)}`,
    );
  if (opts.user && opts.user.uid === owner.uid)
    add("warning", owner.dir, `belongs to ${opts.user.name}, the user serving clients: a fault in client-facing code could change what hosts boot`, `chown -R root: ${BOOT_CONTROL_DIRS.map((d) => join(root, d)).join(" ")}`);
  if (opts.uid !== undefined && opts.uid !== 0)
    for (const b of probeInstallDirs(root))
      add(
        "warning",
        b.dir,
        `not writable by uid ${opts.uid} (now ${b.now}, ${b.error}): serve started as this user (not root) cannot switch hosts, they would install again`,
        `start serve as root (it switches hosts as the owner of ${owner.dir}/), or ${ownershipFix(root, { name: String(opts.uid), uid: opts.uid, gid: opts.uid }, [b])}`,
      );
}

type Add = (severity: Severity, path: string, message: string, fix: string) => void;

function checkLoaders(root: string, add: Add): void {
  for (const l of LOADER_FILES) {
    const present = readable(join(root, l.dest));
    if (l.required && !present)
      add("problem", l.dest, `missing or unreadable (${l.why})`, `pxeboot loaders ${root} --update (the built-in loaders), or ${installHint(l)}, then pxeboot init ${root} --loaders system`);
  }
  const has = (p: string) => readable(join(root, p));
  for (const [shim, grub] of [["shimx64.efi", "grubx64.efi"], ["shimaa64.efi", "grubaa64.efi"]] as const)
    if (has(shim) && !has(grub))
      add("problem", grub, `${shim} is present but the GRUB it loads is not: UEFI clients given ${shim} stop there`, `pxeboot loaders ${root} --update`);
  if (has("syslinux.efi") && !has("ldlinux.e64"))
    add("problem", "ldlinux.e64", "syslinux.efi is present but its core module is not", `apt-get install syslinux-common (Debian) or dnf install syslinux-efi64 (RHEL), then pxeboot init ${root}`);
  if (!has("ipxe.efi") && !has("syslinux.efi") && !has("shimx64.efi"))
    add("warning", "ipxe.efi", "no UEFI boot loader: UEFI clients cannot boot from this tree", `${installHint(LOADER_FILES.find((l) => l.dest === "ipxe.efi")!)}, then pxeboot init ${root}`);
  // The signed GRUB's prefix is built in (/grub): without grub/grub.cfg it stops at its prompt.
  if ((has("grubx64.efi") || has("grubaa64.efi")) && !has(`${GRUB_DIR}/grub.cfg`))
    add("problem", `${GRUB_DIR}/grub.cfg`, "GRUB is present but its config is not: UEFI clients stop at GRUB's prompt", `pxeboot init ${root} (it keeps existing files)`);
  if ((has("ipxe.efi") || has("undionly.kpxe")) && !has("boot.ipxe"))
    add("problem", "boot.ipxe", "iPXE is present but its script is not", `pxeboot init ${root} (it keeps existing files)`);
  if (!has(`${PXELINUX_DIR}/default`))
    add("problem", `${PXELINUX_DIR}/default`, "missing: hosts without an entry of their own get no config", `pxeboot init ${root} (it keeps existing files)`);
}

/**
 * Loaders older than the built-in ones (SBAT generations for shim and GRUB: firmware with a
 * current revocation level refuses them under Secure Boot; syslinux's version), and syslinux
 * files from another build than the tree's ldlinux.c32 (COM32 modules must match it).
 */
function checkLoaderBuilds(root: string, sysroot: string, add: Add): void {
  for (const l of compareTreeLoaders(root))
    if (l.older)
      add("warning", l.entry.file, `older than the built-in ${l.entry.package} ${l.entry.version} (${l.older})`, `pxeboot loaders ${root} --update`);
  const builds: SyslinuxBuild[] = [builtinSyslinuxBuild()];
  for (const distro of ["Debian", "RHEL"] as const) {
    const files: Record<string, string> = {};
    for (const l of LOADER_FILES) {
      const src = (SYSLINUX_BIOS_SET as readonly string[]).includes(l.dest) ? l.sources.find((s) => s.distro === distro) : undefined;
      if (src) files[l.dest] = join(sysroot, src.path);
    }
    const build = installedSyslinuxBuild(files, `the installed ${distro} syslinux packages`);
    if (build) builds.push(build);
  }
  for (const m of mismatchedSyslinuxFiles(root, builds))
    add("problem", m.file, `not from the syslinux build of ldlinux.c32 (${m.build}): pxelinux and COM32 modules must match their ldlinux.c32`, `copy all of them from one build: pxeboot loaders ${root} --update (the built-in ones)`);
}

/** Checks names and links of the config dirs; returns the configs hosts can actually reach. */
function checkEntries(root: string, entries: Entry[], add: Add): Set<string> {
  const inUse = new Set<string>([`${PXELINUX_DIR}/default`, `${GRUB_DIR}/grub.cfg`, "boot.ipxe"]);
  for (const e of entries) {
    const name = e.rel.split("/").pop()!;
    if (isTempName(name)) {
      add("warning", e.rel, "leftover of an interrupted change", `remove it: rm '${join(root, e.rel)}'`);
      continue;
    }
    if (e.isLink) {
      const resolved = resolveInside(root, join(root, e.rel));
      if (resolved === "(dangling)") {
        const target = readlinkSync(join(root, e.rel));
        add("problem", e.rel, `-> ${target} does not exist`, PER_HOST_FIX);
      } else if (resolved.startsWith("(outside")) {
        add("problem", e.rel, `escapes the root ${resolved.slice(1, -1)}`, "make it a relative link to a file inside the root, or copy the file in");
      } else if (e.rel.startsWith(`${PXELINUX_DIR}/`) || e.rel.startsWith(`${GRUB_DIR}/`) || e.rel.startsWith(`${IPXE_DIR}/`)) {
        inUse.add(resolved);
      }
    }
    if (e.rel.startsWith(`${PXELINUX_DIR}/`) && e.rel.split("/").length === 2) checkPxelinuxName(name, e.rel, add);
    if (e.rel.startsWith(`${STATE_DIR}/`) && e.isFile) checkRecord(root, e.rel, add);
    if (e.rel.startsWith(`${LOCK_DIR}/`) && e.isFile)
      add("warning", e.rel, "install-once lock left behind (a server stopped mid-way?)", `if no server is running, remove it: rm '${join(root, e.rel)}'`);
  }
  return inUse;
}

const PER_HOST_FIX = "re-point it with pxeboot host add HOST PROFILE, or remove it with pxeboot host remove HOST (or rm it)";

function checkPxelinuxName(name: string, rel: string, add: Add): void {
  if (/^[0-9a-fA-F]{8}$/.test(name) && name !== name.toUpperCase()) {
    add("problem", rel, "hex IP name in lower case: pxelinux asks for upper case", `rename it to ${PXELINUX_DIR}/${name.toUpperCase()}`);
    return;
  }
  const full = /^[0-9A-F]{8}$/.test(name) ? decodeHexName(name) : undefined;
  if (full) {
    const ip = full.network;
    const first = ip >>> 24;
    if (ip === 0 || ip === 0xffffffff || first >= 224)
      add("problem", rel, `decodes to ${formatIPv4(ip)}, which no PXE client has`, "check the address and re-add the host with pxeboot host add");
    return;
  }
  const macish = /^(?:01-)?([0-9a-fA-F]{2})([-:]?)((?:[0-9a-fA-F]{2}\2){4}[0-9a-fA-F]{2})$/.exec(name);
  if (macish && !/^01-(?:[0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(name)) {
    const canonical = "01-" + name.replace(/^01-/, "").replace(/[-:]/g, "").toLowerCase().match(/../g)!.join("-");
    if (canonical.length === 20)
      add("problem", rel, "looks like a MAC entry but pxelinux asks for 01-aa-bb-cc-dd-ee-ff (lower case, dashes)", `rename it to ${PXELINUX_DIR}/${canonical}`);
  }
}

function checkRecord(root: string, rel: string, add: Add): void {
  try {
    const r = JSON.parse(readFileSync(join(root, rel), "utf8")) as { host?: unknown };
    if (typeof r.host === "string") return;
  } catch {
    // fall through
  }
  add("warning", rel, "unreadable install record", `remove it: rm '${join(root, rel)}'`);
}

/** Files a config loads: pxelinux KERNEL/LINUX/INITRD/COM32/UI and initrd=, GRUB linux/initrd, iPXE kernel/initrd. */
export function referencedFiles(text: string, kind: "pxelinux" | "grub" | "ipxe"): string[] {
  const refs: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [word = "", ...rest] = line.split(/\s+/);
    const kw = word.toLowerCase();
    if (kind === "pxelinux") {
      if (["kernel", "linux", "com32", "ui"].includes(kw) && rest[0]) refs.push(rest[0]);
      if (kw === "initrd" && rest[0]) refs.push(...rest[0].split(","));
      if (kw === "append") for (const a of rest) if (a.startsWith("initrd=")) refs.push(...a.slice(7).split(","));
    } else if (kind === "grub") {
      if (["linux", "linuxefi", "initrd", "initrdefi"].includes(kw)) refs.push(...rest.filter((a) => a.startsWith("/")));
    } else if (["kernel", "initrd", "chain", "imgfetch", "module"].includes(kw)) {
      const arg = ipxeImageArg(rest);
      const file = arg && thisServer(arg);
      if (file && !file.includes("${")) refs.push(file);
    }
  }
  return refs.filter((r) => r && !r.includes("://"));
}

/**
 * A URL naming the server DHCP pointed the client at (what `init --http` writes:
 * http://${next-server}:PORT/vmlinuz-P) is a file of this root, over HTTP or TFTP alike.
 */
function thisServer(arg: string): string {
  const m = /^(?:https?|tftp):\/\/\$\{next-server\}(?::\d+)?(\/[^?#]*)/.exec(arg);
  return m ? m[1]! : arg;
}

/** The image argument of an iPXE image command, past its options (--name and --timeout take a value). */
function ipxeImageArg(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (["--name", "-n", "--timeout", "-t"].includes(a)) i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

function configKind(rel: string): "pxelinux" | "grub" | "ipxe" | undefined {
  if (rel.startsWith(`${PXELINUX_DIR}/`)) return "pxelinux";
  if (rel.startsWith(`${GRUB_DIR}/`) && rel.endsWith(".cfg")) return "grub";
  if (rel.endsWith(".ipxe")) return "ipxe";
  return undefined;
}

/**
 * pxelinux paths are relative to pxelinux.0's directory (the root here; "::" forces absolute);
 * GRUB and iPXE paths with a leading "/" are from the root, other iPXE paths from the script's dir.
 */
function resolveRef(configRel: string, kind: "pxelinux" | "grub" | "ipxe", ref: string): string {
  if (kind === "ipxe" && !ref.startsWith("/")) {
    const dir = configRel.split("/").slice(0, -1).join("/");
    return dir ? `${dir}/${ref}` : ref;
  }
  return ref.replace(/^::/, "").replace(/^\/+/, "");
}

function checkReferences(root: string, inUse: Set<string>, add: Add): void {
  const configs = new Set<string>(inUse);
  for (const dir of [PXELINUX_DIR, GRUB_DIR, IPXE_DIR])
    for (const e of walk(join(root, dir))) if (e.isFile) configs.add(`${dir}/${e.rel}`);
  // One line per missing file, however many loaders' configs load it.
  const missing = new Map<string, { configs: string[]; used: boolean }>();
  for (const rel of [...configs].sort()) {
    const kind = configKind(rel);
    if (!kind) continue;
    let text: string;
    try {
      text = readFileSync(join(root, rel), "utf8");
    } catch {
      continue;
    }
    for (const ref of referencedFiles(text, kind)) {
      const target = resolveRef(rel, kind, ref);
      try {
        statSync(join(root, target));
        continue;
      } catch {
        // missing: collected below
      }
      const m = missing.get(target) ?? { configs: [], used: false };
      m.configs.push(rel);
      m.used ||= inUse.has(rel);
      missing.set(target, m);
    }
  }
  for (const [target, m] of missing)
    add(
      m.used ? "problem" : "warning",
      target,
      `missing, loaded by ${m.configs.join(", ")}${m.used ? "" : " (no host uses them yet)"}`,
      `copy it to ${join(root, target)} or fix the config`,
    );
}

function checkSizes(entries: Entry[], add: Add): void {
  for (const e of entries) {
    if (!e.isFile || e.size < MAX_BLOCKS * 512) continue;
    const mib = (e.size / 1048576).toFixed(1);
    const beyond1468 = e.size >= MAX_BLOCKS * 1468;
    add(
      "warning",
      e.rel,
      `${mib} MiB is more than ${MAX_BLOCKS} blocks at blksize ${beyond1468 ? "1468" : "512"}: the block number must roll over`,
      beyond1468
        ? "serve with block-number rollover enabled, or better load it over HTTP (iPXE, lpxelinux.0)"
        : "clients that do not negotiate blksize need block-number rollover; most PXE ROMs negotiate 1468",
    );
  }
}

/** One line per finding, problems first. */
export function formatFindings(findings: Finding[]): string[] {
  const order = (f: Finding) => (f.severity === "problem" ? 0 : 1);
  return [...findings]
    .sort((a, b) => order(a) - order(b))
    .map((f) => `${f.severity}: ${f.path}: ${f.message} — fix: ${f.fix}`);
}
