/**
 * Install-once as an unprivileged user: which directories it needs, how `init --owner` provides
 * them, and the owner/mode rule the check applies (the user's primary group only, as the server
 * clears supplementary groups when it drops root).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { initLayout } from "../../src/layout/init.ts";
import { canWrite, INSTALL_ONCE_DIRS, unwritableInstallDirs } from "../../src/layout/writable.ts";
import { cleanup, fakeSysroot, tempDir } from "./fixtures.ts";
import { ROOT, testNeeding } from "../gate.ts";

afterEach(cleanup);

const NOBODY = { name: "nobody", uid: 65534, gid: 65534 };

describe("write permission, as the kernel decides it", () => {
  const dir = (uid: number, gid: number, mode: number) => ({ uid, gid, mode: 0o40000 | mode });
  test("owner, group and other classes; write needs search too; root may always", () => {
    expect(canWrite(dir(65534, 0, 0o755), NOBODY)).toBe(true);
    expect(canWrite(dir(65534, 0, 0o555), NOBODY)).toBe(false);
    expect(canWrite(dir(65534, 0, 0o677), NOBODY)).toBe(false); // owner class without search, other class not used
    expect(canWrite(dir(0, 65534, 0o775), NOBODY)).toBe(true);
    expect(canWrite(dir(0, 65534, 0o757), NOBODY)).toBe(false); // group class applies, not other
    expect(canWrite(dir(0, 0, 0o757), NOBODY)).toBe(true);
    expect(canWrite(dir(0, 0, 0o755), NOBODY)).toBe(false);
    expect(canWrite(dir(0, 0, 0o700), { uid: 0, gid: 0 })).toBe(true);
  });
});

describe("install-once directories", () => {
  test("a tree made by root without --owner: every directory install-once writes is named", async () => {
    const root = tempDir();
    await initLayout(root, { profiles: ["7.2"], sysroot: fakeSysroot() });
    const me = { uid: process.getuid!(), gid: process.getgid!() };
    // As its own creator every directory is writable; as someone else none is.
    expect(unwritableInstallDirs(root, me)).toEqual([]);
    const stranger = { uid: me.uid === 0 ? 65534 : me.uid + 1, gid: 65533 };
    expect(unwritableInstallDirs(root, stranger).map((d) => d.dir).sort()).toEqual([...INSTALL_ONCE_DIRS].sort());
  });

  test("a missing directory counts as the one above it, where it would be created", async () => {
    const root = tempDir();
    await initLayout(root, { profiles: ["7.2"], sysroot: fakeSysroot() });
    const me = { uid: process.getuid!(), gid: process.getgid!() };
    chmodSync(join(root, ".pxeboot"), 0o555);
    try {
      rmSync(join(root, ".pxeboot/macs"), { recursive: true });
      const dirs = unwritableInstallDirs(root, me.uid === 0 ? { uid: 1, gid: 1 } : me).map((d) => d.dir);
      expect(dirs).toContain(".pxeboot");
      expect(dirs).not.toContain(".pxeboot/macs");
    } finally {
      chmodSync(join(root, ".pxeboot"), 0o755);
    }
  });

  testNeeding(ROOT, "init --owner gives those directories (and nothing served) to the user", async () => {
    const root = tempDir();
    const report = await initLayout(root, { profiles: ["7.2"], sysroot: fakeSysroot(), owner: NOBODY });
    expect(report.owned).toEqual({ owner: "nobody", dirs: INSTALL_ONCE_DIRS });
    expect(unwritableInstallDirs(root, NOBODY)).toEqual([]);
    for (const d of INSTALL_ONCE_DIRS) expect(statSync(join(root, d)).uid).toBe(65534);
    // Kernels, profiles and the marker stay root's: the server's user can switch hosts, not alter boots.
    for (const f of ["pxelinux.cfg/default", "pxelinux.cfg/default.netboot-7.2", "Kickstart_end", "pxelinux.0"])
      expect(lstatSync(join(root, f)).uid).toBe(0);
  });
});
