/**
 * How a tree's boot loaders stand against the built-in ones: which match byte for byte, which
 * differ (and whether they are older), which are missing; and whether pxelinux's COM32 modules
 * come from the same syslinux build as its ldlinux.c32 (they must: a module from another build
 * fails to load with undefined symbols).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_MANIFEST, builtinBytes, sha256Hex } from "./builtin.ts";
import type { ManifestEntry } from "./manifest-types.ts";
import { olderSbat, sbatGenerations } from "./sbat.ts";

export type LoaderState = "match" | "differs" | "missing";

export interface TreeLoader {
  entry: ManifestEntry;
  state: LoaderState;
  /** For a file that differs and is recognisably older: why ("syslinux 6.03 < 6.04", "grub 3 < 5"). */
  older?: string;
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** "6.04" from pxelinux.0, syslinux.efi and the like; undefined where the file does not say. */
export function syslinuxVersion(data: Uint8Array): [number, number] | undefined {
  const m = /(?:PXELINUX|SYSLINUX|Syslinux|ISOLINUX|EXTLINUX) (\d+)\.(\d+)/.exec(Buffer.from(data).toString("latin1"));
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Syslinux numbers its releases x.yy (6.03, 6.04). */
const formatSyslinux = ([major, minor]: [number, number]) => `${major}.${String(minor).padStart(2, "0")}`;

/** Why `tree` is older than `builtin`, if the files say so (SBAT generations, syslinux version). */
export function olderThan(tree: Uint8Array, builtin: Uint8Array): string | undefined {
  const sbat = olderSbat(sbatGenerations(tree), sbatGenerations(builtin));
  if (sbat.length) return `SBAT ${sbat.join(", ")}`;
  const have = syslinuxVersion(tree);
  const want = syslinuxVersion(builtin);
  if (have && want && (have[0] < want[0] || (have[0] === want[0] && have[1] < want[1])))
    return `syslinux ${formatSyslinux(have)} < ${formatSyslinux(want)}`;
  return undefined;
}

export function compareTreeLoaders(root: string): TreeLoader[] {
  return BUILTIN_MANIFEST.files.map((entry) => {
    const data = readOrUndefined(join(root, entry.file));
    if (data === undefined) return { entry, state: "missing" };
    if (data.length === entry.size && sha256Hex(data) === entry.sha256) return { entry, state: "match" };
    const older = olderThan(data, builtinBytes(entry.file));
    return { entry, state: "differs", ...(older ? { older } : {}) };
  });
}

/** The BIOS syslinux files that must all come from one build: the loader, its core and the modules. */
export const SYSLINUX_BIOS_SET = ["pxelinux.0", "ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32"] as const;

/** A known build of those files: name → sha256 (the built-in one, or an installed package's). */
export type SyslinuxBuild = { label: string; sha256: ReadonlyMap<string, string> };

export function builtinSyslinuxBuild(): SyslinuxBuild {
  const sha = new Map(BUILTIN_MANIFEST.files.filter((e) => (SYSLINUX_BIOS_SET as readonly string[]).includes(e.file)).map((e) => [e.file, e.sha256]));
  const version = BUILTIN_MANIFEST.files.find((e) => e.file === "ldlinux.c32")!.version;
  return { label: `the built-in syslinux ${version}`, sha256: sha };
}

/** The installed package's build, read from the files it installs; undefined if not installed. */
export function installedSyslinuxBuild(files: Record<string, string>, label: string): SyslinuxBuild | undefined {
  const sha = new Map<string, string>();
  for (const [name, path] of Object.entries(files)) {
    const data = readOrUndefined(path);
    if (data) sha.set(name, sha256Hex(data));
  }
  return sha.has("ldlinux.c32") ? { label, sha256: sha } : undefined;
}

export interface MismatchedModule {
  file: string;
  /** Which build the tree's ldlinux.c32 is. */
  build: string;
}

/**
 * The tree's syslinux files that are not from the build its ldlinux.c32 is from. A tree whose
 * ldlinux.c32 is of no known build cannot be judged, and gives none.
 */
export function mismatchedSyslinuxFiles(root: string, builds: SyslinuxBuild[]): MismatchedModule[] {
  const ldlinux = readOrUndefined(join(root, "ldlinux.c32"));
  if (!ldlinux) return [];
  const sha = sha256Hex(ldlinux);
  const build = builds.find((b) => b.sha256.get("ldlinux.c32") === sha);
  if (!build) return [];
  const out: MismatchedModule[] = [];
  for (const file of SYSLINUX_BIOS_SET) {
    const want = build.sha256.get(file);
    const data = file === "ldlinux.c32" || want === undefined ? undefined : readOrUndefined(join(root, file));
    if (data && sha256Hex(data) !== want) out.push({ file, build: build.label });
  }
  return out;
}
