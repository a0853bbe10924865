/**
 * `pxeboot init` on a host without any boot loader package: the compiled binary writes its
 * built-in loaders, and every one is byte for byte what the manifest pins. The packages' files
 * are hidden with empty tmpfs mounts in a private mount namespace, so this proves nothing
 * outside the binary was read (a --sysroot pointing elsewhere would not); a control run with
 * `--loaders system` in the same namespace finds none of them.
 */
import { afterEach, describe, expect } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILTIN_MANIFEST, sha256Hex } from "../../src/loaders/builtin.ts";
import { testNeeding, ROOT } from "../gate.ts";
import { BINARY, run } from "./harness.ts";

/** Every directory a Debian or RHEL loader package installs boot loaders into. */
const PACKAGE_DIRS = ["/usr/lib/PXELINUX", "/usr/lib/syslinux", "/usr/lib/SYSLINUX.EFI", "/usr/lib/ipxe", "/usr/lib/shim", "/usr/lib/grub", "/usr/share/syslinux", "/usr/share/ipxe", "/boot", "/tftpboot"];

const UNSHARE = { present: ROOT.present && Bun.which("unshare") !== null, what: "root and unshare (a private mount namespace)" };

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs the binary with the loader packages' directories hidden. */
async function withoutPackages(...args: string[]) {
  const hide = PACKAGE_DIRS.map((d) => `if [ -d ${d} ]; then mount -t tmpfs -o size=1m,mode=0555 pxeboot-hidden ${d} || exit 99; fi`).join("; ");
  return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", `${hide}; exec "$@"`, "sh", BINARY, ...args], 60_000);
}

describe("init with nothing installed", () => {
  testNeeding(UNSHARE, "writes the built-in loaders, doctor passes, every loader matches the manifest", async () => {
    const root = join(mkdtempSync(join(tmpdir(), "pxeboot-builtin-")), "tftp");
    made.push(root);
    const init = await withoutPackages("init", root, "--server", "10.0.0.1");
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).not.toContain("MISSING");
    expect(init.stdout).toMatch(/created\s+pxelinux\.0\s+\(built in: pxelinux 3:6\.04/);
    for (const e of BUILTIN_MANIFEST.files) {
      const data = readFileSync(join(root, e.file));
      expect({ file: e.file, sha256: sha256Hex(data) }).toEqual({ file: e.file, sha256: e.sha256 });
    }
    const doctor = await withoutPackages("doctor", root);
    expect(doctor.stdout).toContain(`${root}: 0 problem(s), 0 warning(s)`);
    expect(doctor.code).toBe(0);
  });

  testNeeding(UNSHARE, "control: --loaders system in the same namespace finds no package file", async () => {
    const root = join(mkdtempSync(join(tmpdir(), "pxeboot-builtin-")), "tftp");
    made.push(root);
    const init = await withoutPackages("init", root, "--loaders", "system");
    expect(init.code).toBe(1);
    expect(init.stdout).toMatch(/MISSING\s+pxelinux\.0 .*apt-get install pxelinux/);
    expect(existsSync(join(root, "pxelinux.0"))).toBe(false);
  });
});
