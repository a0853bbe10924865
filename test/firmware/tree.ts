/**
 * A tftproot for one test, laid out the way a boot farm's is: the boot loaders at the top,
 * pxelinux.cfg/ with per-host names (hex IP) that may be symlinks to a profile, kernel and
 * initrds next to them. Real copies, not links to /usr, so the server's confinement sees a
 * normal tree.
 */
import { spawnSync } from "bun";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { HOST, pxebootBinary } from "./tools.ts";
import { scratchDir } from "./payload.ts";

export interface TreeSpec {
  /**
   * Start from the product's own layout: `pxeboot init ROOT --profile P` and `pxeboot host add
   * HOST P` for each host; the other fields then add to or overwrite that tree. With `owner`,
   * init runs with `--owner OWNER`, the tree a `serve --user OWNER` needs.
   */
  init?: { profile: string; hosts: string[]; owner?: string; http?: number };
  /** Rewrite files the init layout made (e.g. point a profile's kernel line at the test payload). */
  edits?: Record<string, (text: string) => string>;
  /** Text files by path relative to the root (pxelinux.cfg entries, iPXE scripts, markers). */
  files?: Record<string, string>;
  /** Binary files by path relative to the root (e.g. a U-Boot script image). */
  binaries?: Record<string, Uint8Array>;
  /** Copies of host files by path relative to the root. */
  copies?: Record<string, string>;
  /** Symlinks by path relative to the root, pointing at a target relative to the link. */
  links?: Record<string, string>;
}

/** Loaders and the kernel every tree has; BIOS and UEFI machines boot from the same tree. */
const BASE: Record<string, string> = {
  "pxelinux.0": HOST.pxelinux,
  "ldlinux.c32": HOST.ldlinuxBios,
  "syslinux.efi": HOST.syslinuxEfi,
  "ldlinux.e64": HOST.ldlinuxEfi,
  vmlinuz: HOST.kernel,
};

export function buildTree(spec: TreeSpec): string {
  // World-readable like a real tftproot (scratchDir makes it 0755): a server that drops privileges must still read it.
  const root = scratchDir("pxeboot-root-");
  if (spec.init) {
    if (spec.init.owner) {
      const blocked = unsearchableAncestors(root);
      if (blocked.length) {
        rmSync(root, { recursive: true, force: true });
        throw new Error(
          `the server, running as ${spec.init.owner}, could not reach ${root}: ${blocked.join(", ")} not searchable by others; ` +
            "point PXEBOOT_FIRMWARE_TMP at a directory every user can reach",
        );
      }
    }
    const owner = spec.init.owner ? ["--owner", spec.init.owner] : [];
    const http = spec.init.http ? ["--http", String(spec.init.http)] : [];
    pxeboot(["init", root, "--profile", spec.init.profile, "--server", "192.168.0.1", ...owner, ...http]);
    for (const host of spec.init.hosts) pxeboot(["host", "add", host, spec.init.profile, "--root", root]);
  }
  mkdirSync(join(root, "pxelinux.cfg"), { recursive: true });
  const place = (rel: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    return p;
  };
  const loaders = spec.init ? {} : BASE;
  for (const [rel, src] of Object.entries({ ...loaders, ...spec.copies })) copyFileSync(src, place(rel));
  for (const [rel, text] of Object.entries(spec.files ?? {})) writeFileSync(place(rel), text);
  for (const [rel, bytes] of Object.entries(spec.binaries ?? {})) writeFileSync(place(rel), bytes);
  for (const [rel, target] of Object.entries(spec.links ?? {})) symlinkSync(target, place(rel));
  for (const [rel, edit] of Object.entries(spec.edits ?? {})) {
    const before = readFileSync(join(root, rel), "utf8");
    const after = edit(before);
    if (after === before) throw new Error(`tree edit of ${rel} changed nothing; the init layout changed:\n${before}`);
    writeFileSync(join(root, rel), after);
  }
  return root;
}

/** Directories above `path` without o+x, each with its mode: where an unprivileged server stops. */
export function unsearchableAncestors(path: string, mode = (dir: string) => statSync(dir).mode): string[] {
  const blocked: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const m = mode(dir);
    if ((m & 0o001) === 0) blocked.unshift(`${dir} (mode ${(m & 0o7777).toString(8).padStart(4, "0")})`);
    if (dir === dirname(dir)) break;
  }
  return blocked;
}

/**
 * The dnsmasq snippet `pxeboot init --server 192.168.0.1` prints (the block from its "# dnsmasq"
 * line to the next snippet), as an admin would paste it.
 */
export function initDnsmasqSnippet(extra: string[] = []): string {
  const dir = scratchDir("pxeboot-snippet-");
  try {
    const out = pxeboot(["init", join(dir, "tree"), "--dry-run", "--server", "192.168.0.1", ...extra]);
    const m = /^# dnsmasq[^\n]*\n[\s\S]*?(?=^\/\/ Kea|^# ISC|(?![\s\S]))/m.exec(out);
    if (!m) throw new Error(`no dnsmasq snippet in pxeboot init's output:\n${out}`);
    return m[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pxeboot(args: string[]): string {
  const r = spawnSync([pxebootBinary(), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  if (r.exitCode !== 0) throw new Error(`pxeboot ${args.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

export interface PxelinuxEntry {
  label: string;
  kernel: string;
  initrd: string;
  append: string;
}

/** A pxelinux.cfg file that boots one entry at once (no menu, no prompt). */
export function pxelinuxConfig(e: PxelinuxEntry): string {
  return [`DEFAULT ${e.label}`, "PROMPT 0", "TIMEOUT 0", `LABEL ${e.label}`, `  KERNEL ${e.kernel}`, `  INITRD ${e.initrd}`, `  APPEND ${e.append}`, ""].join("\n");
}

/** The farm's `default`: boot the local disk, the state of a host that finished its install. */
export const LOCALBOOT_CONFIG = ["DEFAULT local", "PROMPT 0", "TIMEOUT 0", "LABEL local", "  LOCALBOOT 0", ""].join("\n");

/** Kernel arguments every payload boot uses: console on the serial port, the version line shown. */
export function kernelArgs(profile: string, extra: string[] = []): string {
  return ["console=ttyS0", "loglevel=6", "panic=-1", `pxetest.profile=${profile}`, ...extra].join(" ");
}

/** An iPXE profile script with its kernel and initrd names kept and its installer arguments swapped for `args`. */
export const ipxeKernelLine = (args: string) => (script: string) =>
  script.replace(/^kernel (\S+) (initrd=\S+).*$/m, (_all, kernel: string, initrd: string) => `kernel ${kernel} ${initrd} ${args}`);
