/** Throw-away trees for layout tests: a fake installed system and a fresh tftproot. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { initLayout } from "../../src/layout/init.ts";
import { LOADER_FILES } from "../../src/layout/loaders.ts";

const made: string[] = [];

export function tempDir(prefix = "pxeboot-layout-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A system root holding the Debian package files, with recognisable contents. `only` limits it
 * to the loaders whose tree name is listed (e.g. the BIOS files of pxelinux + syslinux-common).
 */
export function fakeSysroot(only?: string[]): string {
  const sys = tempDir("pxeboot-sysroot-");
  for (const l of LOADER_FILES) {
    if (only && !only.includes(l.dest)) continue;
    const src = l.sources.find((s) => s.distro === "Debian")!;
    mkdirSync(dirname(join(sys, src.path)), { recursive: true });
    writeFileSync(join(sys, src.path), `fake ${l.dest} from ${src.package}\n`);
  }
  return sys;
}

/** A tree as `pxeboot init --profile …` makes it on a system with every loader package. */
export async function freshTree(profiles: string[] = ["7.2"]): Promise<string> {
  const root = tempDir();
  await initLayout(root, { profiles, sysroot: fakeSysroot() });
  return root;
}

export function write(root: string, rel: string, data: string | Uint8Array = ""): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), data);
}
