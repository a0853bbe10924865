/** The layout commands as a user runs them: exit codes, one-line errors, printed order. */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { cleanup, fakeSysroot, tempDir } from "./fixtures.ts";

afterEach(cleanup);

const MAIN = resolve(import.meta.dir, "../../src/cli/main.ts");
const BIOS = ["pxelinux.0", "ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32"];

async function pxeboot(...args: string[]) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

describe("init and doctor", () => {
  test("with pxelinux + syslinux-common: init and doctor exit 0", async () => {
    const root = join(tempDir(), "tftp");
    const init = await pxeboot("init", root, "--sysroot", fakeSysroot(BIOS), "--profile", "7.2", "-p", "8.1", "--server", "10.0.0.1");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("created              pxelinux.cfg/default.netboot-7.2");
    expect(init.stdout).toContain("created              pxelinux.cfg/default.netboot-8.1");
    expect(init.stdout).toContain("next-server 10.0.0.1;");
    const doctor = await pxeboot("doctor", root);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toContain(`${root}: 0 problem(s)`);
  });

  test("without them: both exit 1 and name the package to install", async () => {
    const root = join(tempDir(), "tftp");
    const init = await pxeboot("init", root, "--sysroot", tempDir("pxeboot-empty-sys-"));
    expect(init.code).toBe(1);
    expect(init.stdout).toMatch(/MISSING\s+pxelinux\.0 .*apt-get install pxelinux/);
    expect(init.stdout).toMatch(/MISSING\s+ldlinux\.c32 .*apt-get install syslinux-common/);
    const doctor = await pxeboot("doctor", root);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^problem: pxelinux\.0: .*apt-get install pxelinux/m);
  });

  test("--loaders takes builtin or system; --sysroot goes with system only", async () => {
    const root = join(tempDir(), "tftp");
    const bad = await pxeboot("init", root, "--loaders", "debian");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--loaders must be one of builtin, system, got 'debian'");
    const clash = await pxeboot("init", root, "--loaders", "builtin", "--sysroot", tempDir());
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain("--sysroot looks for installed packages: use it with --loaders system");
    expect(existsSync(root)).toBe(false);
  });

  test("by default init writes the built-in loaders and says which package each came from", async () => {
    const root = join(tempDir(), "tftp");
    const init = await pxeboot("init", root, "--dry-run");
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/would create\s+shimx64\.efi\s+\(built in: shim-signed 1\.51/);
    expect(init.stdout).toMatch(/would create\s+grubaa64\.efi\s+\(built in: grub-efi-arm64-signed /);
  });
});

describe("host", () => {
  test("add 192.168.0.11 7.2 creates pxelinux.cfg/C0A8000B -> default.netboot-7.2; which prints the order", async () => {
    const root = tempDir();
    await pxeboot("init", root, "--sysroot", fakeSysroot(BIOS), "--profile", "7.2");
    const add = await pxeboot("host", "add", "192.168.0.11", "7.2", "--root", root);
    expect(add.code).toBe(0);
    expect(readlinkSync(join(root, "pxelinux.cfg/C0A8000B"))).toBe("default.netboot-7.2");
    const which = await pxeboot("host", "which", "192.168.0.11", "--mac", "52:54:00:12:34:56", "--root", root);
    expect(which.code).toBe(0);
    const order = which.stdout.split("\n").filter((l) => /^\s*\d+\. /.test(l)).map((l) => l.trim().split(/\s+/)[1]);
    expect(order).toEqual([
      "pxelinux.cfg/01-52-54-00-12-34-56",
      "pxelinux.cfg/C0A8000B", "pxelinux.cfg/C0A8000", "pxelinux.cfg/C0A800", "pxelinux.cfg/C0A80",
      "pxelinux.cfg/C0A8", "pxelinux.cfg/C0A", "pxelinux.cfg/C0", "pxelinux.cfg/C",
      "pxelinux.cfg/default",
    ]);
    expect(which.stdout).toMatch(/pxelinux\.cfg\/C0A8000B .*found -> default\.netboot-7\.2.*<== boots this/);
    expect(which.stdout).toContain("boots pxelinux.cfg/default.netboot-7.2\n");
    const list = await pxeboot("host", "list", "--root", root);
    expect(list.stdout).toMatch(/192\.168\.0\.11\s+C0A8000B\s+7\.2\s+pending/);
    const remove = await pxeboot("host", "remove", "192.168.0.11", "--root", root);
    expect(remove.code).toBe(0);
    expect(remove.stdout).toContain("removed pxelinux.cfg/C0A8000B");
  });

  test("which --arch http and --ipxe: the DHCP answers, boot.ipxe's search and the host's script, its kernel and initrd", async () => {
    const root = tempDir();
    await pxeboot("init", root, "--sysroot", fakeSysroot(), "--profile", "7.2");
    expect((await pxeboot("host", "add", "192.168.0.11", "7.2", "--root", root)).code).toBe(0);
    const files = (out: string) => out.split("files the boot fetches, in order:\n")[1]!.split("\n").filter((l) => /^  (loader|module|config|kernel|initrd) /.test(l)).map((l) => l.trim().replace(/\s+/g, " ").replace(/ (ok \(\d+ B\)|MISSING)$/, ""));
    const http = await pxeboot("host", "which", "192.168.0.11", "--mac", "52:54:00:12:34:56", "--arch", "http", "--root", root);
    expect(http.code).toBe(0);
    expect(http.stdout).toStartWith(
      "DHCP to the firmware (HTTP Boot, client architecture 16): the answer must name http://SERVER:PORT/ipxe.efi; option 60 HTTPClient; serve --http PORT serves it\n" +
        "DHCP to iPXE (user class iPXE, option 175): the answer must name http://SERVER:PORT/boot.ipxe; serve --http PORT serves it\n",
    );
    expect(http.stdout).toMatch(/ 2\. ipxe\/mac-52-54-00-12-34-56\.ipxe +MAC \(\$\{mac:hexhyp\}\) +-\n/);
    expect(http.stdout).toMatch(/ 3\. ipxe\/ip-192\.168\.0\.11\.ipxe +IP \(\$\{ip\}\) +found -> netboot-7\.2\.ipxe .*<== boots this/);
    expect(files(http.stdout)).toEqual([
      "loader ipxe.efi http",
      "config boot.ipxe http",
      "config ipxe/ip-192.168.0.11.ipxe http",
      "kernel vmlinuz-7.2 http",
      "initrd initrd-7.2.img http",
    ]);
    expect(http.stdout).toMatch(/^  kernel +vmlinuz-7\.2 +http +MISSING$/m);
    expect(http.stdout).toContain("  append  initrd=initrd-7.2.img ip=dhcp ");
    const ipxe = await pxeboot("host", "which", "192.168.0.11", "--ipxe", "--root", root);
    expect(ipxe.code).toBe(0);
    expect(ipxe.stdout.split("\n")[0]).toBe("DHCP to iPXE (user class iPXE, option 175): the answer must name boot.ipxe (or http://SERVER:PORT/boot.ipxe where serve --http runs); this server as next-server for the path");
    expect(files(ipxe.stdout)).toEqual([
      "config boot.ipxe tftp or http",
      "config ipxe/ip-192.168.0.11.ipxe tftp or http",
      "kernel vmlinuz-7.2 tftp or http",
      "initrd initrd-7.2.img tftp or http",
    ]);
    const bad = await pxeboot("host", "which", "192.168.0.11", "--arch", "efi32", "--root", root);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("pxeboot: --arch must be one of bios, efi64, arm64, http, http-arm64, got 'efi32'\n");
  });

  test("bad input: exit 2 with one line naming the input and the fix", async () => {
    const root = tempDir();
    await pxeboot("init", root, "--sysroot", fakeSysroot(BIOS), "--profile", "7.2");
    const cases: [string[], RegExp][] = [
      [["host", "add", "192.168.0.11", "7.3", "--root", root], /unknown profile '7\.3' .*known profiles: 7\.2/],
      [["host", "add", "192.168.0.300", "7.2", "--root", root], /'192\.168\.0\.300' is not a host: use an IPv4 address/],
      [["host", "add", "192.168.0.11", "7.2", "--root", join(root, "nope")], /--root .*nope is not a directory: create it with pxeboot init/],
      [["host", "which", "10.0.0.0/24", "--root", root], /not a client address: give one IPv4 address/],
      [["init", root, "--profile", "../x"], /profile '\.\.\/x' is not a usable name/],
    ];
    for (const [args, re] of cases) {
      const r = await pxeboot(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
  });
});
