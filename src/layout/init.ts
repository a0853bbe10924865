/**
 * `pxeboot init`: plans the default tree, then applies the plan. Planning is pure over the file
 * system's current state, so --dry-run prints exactly what a real run would do, and existing
 * files are kept unless `force` (re-running init is how profiles are added).
 */
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../usage-error.ts";
import { writeFileAtomic } from "./atomic.ts";
import { usableBootFiles } from "./boot-files.ts";
import { LOADER_FILES, findSource, installHint } from "./loaders.ts";
import { builtinBytes, builtinEntry } from "../loaders/builtin.ts";
import { DEFAULT_MARKER, GRUB_DIR, PXELINUX_DIR, profileFile } from "./paths.ts";
import { INSTALL_ONCE_DIRS, type Identity } from "./writable.ts";
import { validateProfileName } from "./profiles.ts";
import { TEMPLATES, ipxeBase, markerFetchCommand, render } from "./templates.ts";

export interface InitOptions {
  profiles?: string[];
  force?: boolean;
  dryRun?: boolean;
  /**
   * Where boot loaders come from: the ones built into pxeboot (default: nothing need be
   * installed), or the system's packages (`--loaders system`, for a distribution's updates).
   */
  loaders?: LoaderOrigin;
  /** With `loaders: "system"`: where package paths are looked up (a chroot, or a fake system in tests). */
  sysroot?: string;
  marker?: string;
  /** Who will run install-once on the tree (`serve --user`): its directories are given to them. */
  owner?: Identity;
  /** `serve --http PORT` will run: iPXE profiles load kernel and initrd over HTTP from this port. */
  httpPort?: number;
  /** The pxeboot server's address, written into iPXE profiles' HTTP URLs (default: iPXE's ${next-server}). */
  server?: string;
}

export type InitAction = "create" | "overwrite" | "keep";

export type LoaderOrigin = "builtin" | "system";
export const LOADER_ORIGINS: readonly LoaderOrigin[] = ["builtin", "system"];

export interface InitStep {
  /** Relative to the root. */
  path: string;
  action: InitAction;
  /** For boot loaders copied from the system: the package file copied from. */
  source?: string;
  /** For built-in boot loaders: the package and version they came from. */
  builtin?: string;
}

export interface MissingLoader {
  path: string;
  required: boolean;
  why: string;
  install: string;
}

export interface InitReport {
  root: string;
  dryRun: boolean;
  profiles: string[];
  steps: InitStep[];
  missing: MissingLoader[];
  /** With an owner: the directories made theirs, relative to the root. */
  owned?: { owner: string; dirs: string[] };
}

type Content = { text: string } | { from: string } | { builtin: string };

interface PlannedFile {
  path: string;
  content: Content;
  source?: string;
  builtin?: string;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function plannedFiles(root: string, profiles: string[], marker: string, origin: LoaderOrigin, sysroot: string, httpPort: number | undefined, server: string) {
  const serveFlags = httpPort === undefined ? "" : ` --http ${httpPort}`;
  const files: PlannedFile[] = [
    { path: `${PXELINUX_DIR}/default`, content: { text: TEMPLATES.pxelinuxDefault } },
    { path: `${GRUB_DIR}/grub.cfg`, content: { text: TEMPLATES.grubCfg } },
    { path: "boot.ipxe", content: { text: TEMPLATES.bootIpxe } },
    // Not empty: some clients choke on an empty file's OACK (curl 7.88 rejects "tsize 0").
    { path: marker, content: { text: render(TEMPLATES.marker, { marker }) } },
    { path: "README", content: { text: render(TEMPLATES.readme, { root: resolve(root), marker, serveFlags, fetch: markerFetchCommand("THIS-SERVER", marker, undefined, httpPort) }) } },
  ];
  for (const name of profiles) {
    files.push(
      { path: profileFile("pxelinux", name), content: { text: render(TEMPLATES.pxelinuxNetboot, { name, marker, fetch: markerFetchCommand("TFTP-SERVER", marker, undefined, httpPort) }) } },
      { path: profileFile("grub", name), content: { text: render(TEMPLATES.grubNetboot, { name }) } },
      { path: profileFile("ipxe", name), content: { text: render(TEMPLATES.ipxeNetboot, { name, ...ipxeBase(httpPort, server) }) } },
    );
  }
  const missing: MissingLoader[] = [];
  for (const loader of LOADER_FILES) {
    const built = origin === "builtin" ? builtinEntry(loader.dest) : undefined;
    if (built) {
      files.push({ path: loader.dest, content: { builtin: loader.dest }, builtin: `${built.package} ${built.version}` });
      continue;
    }
    const src = findSource(loader, sysroot);
    if (src) files.push({ path: loader.dest, content: { from: join(sysroot, src.path) }, source: src.path });
    else if (!exists(join(root, loader.dest)))
      missing.push({ path: loader.dest, required: loader.required, why: loader.why, install: installHint(loader) });
  }
  return { files, missing };
}

export async function initLayout(dir: string, opts: InitOptions = {}): Promise<InitReport> {
  const profiles = [...new Set((opts.profiles ?? []).map(validateProfileName))];
  const marker = opts.marker ?? DEFAULT_MARKER;
  if (exists(dir) && !statSync(dir).isDirectory())
    throw new UsageError(`${dir} exists and is not a directory: pick another DIR`);
  // A sysroot is where packages are looked for: giving one asks for the system's loaders.
  const origin = opts.loaders ?? (opts.sysroot === undefined ? "builtin" : "system");
  const { files, missing } = plannedFiles(dir, profiles, marker, origin, opts.sysroot ?? "/", opts.httpPort, opts.server ?? "${next-server}");
  const steps: InitStep[] = files.map((f) => ({
    path: f.path,
    action: exists(join(dir, f.path)) ? (opts.force ? "overwrite" : "keep") : "create",
    ...(f.source ? { source: f.source } : {}),
    ...(f.builtin ? { builtin: f.builtin } : {}),
  }));
  if (!opts.dryRun) {
    for (const sub of INSTALL_ONCE_DIRS) mkdirSync(join(dir, sub), { recursive: true });
    files.forEach((f, i) => {
      if (steps[i]!.action === "keep") return;
      const c = f.content;
      const data = "text" in c ? c.text : "builtin" in c ? builtinBytes(c.builtin) : readFileSync(c.from);
      writeFileAtomic(join(dir, f.path), data, 0o644);
    });
    if (opts.owner) giveDirs(dir, opts.owner);
  }
  const owned = opts.owner ? { owner: opts.owner.name, dirs: INSTALL_ONCE_DIRS } : undefined;
  return { root: dir, dryRun: !!opts.dryRun, profiles, steps, missing, ...(owned ? { owned } : {}) };
}

/**
 * Only the directories install-once writes in change hands: the files served stay root's, so the
 * server's user can switch hosts but never alter a kernel or a profile.
 */
function giveDirs(root: string, owner: Identity): void {
  for (const sub of INSTALL_ONCE_DIRS) {
    try {
      chownSync(join(root, sub), owner.uid, owner.gid);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EPERM") throw new UsageError(`--owner ${owner.name}: changing owners needs root; run pxeboot init as root`);
      throw err;
    }
  }
}

/**
 * The boot file DHCP should give UEFI x64 clients: shim, which boots with Secure Boot on and off
 * (the firmware trusts it; it loads the signed GRUB beside it, which reads grub/grub.cfg);
 * syslinux.efi (the same pxelinux.cfg entries as BIOS clients) where the tree has no shim and
 * GRUB; iPXE's ipxe.efi (with boot.ipxe) otherwise.
 */
export function uefiBootFile(r: InitReport): string {
  const has = (f: string) => r.steps.some((s) => s.path === f) || existsSync(join(r.root, f));
  // The proxyDHCP's order (boot-files.ts), so the snippets and the proxy give the same file.
  return usableBootFiles("uefiX64", has)[0] ?? "syslinux.efi";
}

/** The human summary `pxeboot init` prints; missing loaders name the package to install. */
export function formatInitReport(r: InitReport): string {
  const lines: string[] = [];
  const verb: Record<InitAction, string> = r.dryRun
    ? { create: "would create", overwrite: "would overwrite", keep: "would keep (exists)" }
    : { create: "created", overwrite: "overwrote", keep: "kept (exists)" };
  lines.push(`${r.dryRun ? "Plan for" : "Tree"} ${r.root}:`);
  for (const s of r.steps) lines.push(`  ${verb[s.action].padEnd(20)} ${s.path}${s.source ? `  (from ${s.source})` : s.builtin ? `  (built in: ${s.builtin})` : ""}`);
  // One line per package to install: required loaders first, each named with what it is for.
  const groups = new Map<string, MissingLoader[]>();
  for (const m of [...r.missing].sort((a, b) => Number(b.required) - Number(a.required))) {
    const key = `${m.required}|${m.install}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  for (const ms of groups.values()) {
    const what = ms.length === 1 ? `${ms[0]!.path} — ${ms[0]!.why}` : ms.map((m) => m.path).join(", ");
    lines.push(`  ${(ms[0]!.required ? "MISSING" : "not found").padEnd(20)} ${what}; install: ${ms[0]!.install}, then re-run pxeboot init`);
  }
  if (r.owned)
    lines.push(`  ${(r.dryRun ? "would give" : "gave").padEnd(20)} ${r.owned.dirs.map((d) => `${d}/`).join(" ")} to ${r.owned.owner} (install-once runs as that user)`);
  if (r.profiles.length === 0) lines.push(`  no profiles: add one with pxeboot init ${r.root} --profile NAME`);
  return lines.join("\n");
}
