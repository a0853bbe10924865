/**
 * What the booted machines run, built at test time from Debian's files: a busybox initramfs whose
 * /init reports to the serial console, and a one-sector "local disk" that says it was booted.
 *
 * The /init is driven by the kernel command line, so one /init serves every test and initrd:
 *   pxetest.profile=NAME        echoed in the markers (which pxelinux.cfg entry booted)
 *   pxetest.file=F pxetest.sha256=H   check a file inside the initrd
 *   pxetest.fetch=REMOTE        bring eth0 up as 192.168.0.11 and fetch REMOTE from 192.168.0.1
 *   pxetest.fetch_client=C      … with `busybox` tftp (the default) or `curl`; an initrd without
 *                               curl (see curlInitrd) falls back to busybox, and the marker line
 *                               ends with client=C naming the one that ran
 *   pxetest.blksize=N           … asking for that block size (busybox: 512 sends no blksize option)
 *   pxetest.fetch_sha256=H      … and check what arrived
 */
import { createHash, randomFillSync } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { HOST } from "./tools.ts";

export const MARK = {
  init: "PXETEST-INIT",
  done: "PXETEST-DONE",
  fail: "PXETEST-FAIL",
  shaOk: "PXETEST-SHA256-OK",
  fetched: "PXETEST-FETCHED",
  localDisk: "LOCAL-DISK-BOOT",
} as const;

const INIT_SCRIPT = `#!/bin/busybox sh
# The kernel starts init with no PATH; /usr/bin is where curl lands when the initrd has it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "\${w#*=}";; esac; done; }
fail() { echo "${MARK.fail} profile=$profile $*"; poweroff -f; sleep 30; }
profile=$(arg pxetest.profile)
echo "${MARK.init} profile=$profile"
want=$(arg pxetest.sha256)
if [ -n "$want" ]; then
  f=$(arg pxetest.file)
  got=$(sha256sum "$f" | cut -d' ' -f1)
  [ "$got" = "$want" ] || fail "sha256 of $f is $got, expected $want"
  echo "${MARK.shaOk} $f"
fi
remote=$(arg pxetest.fetch)
if [ -n "$remote" ]; then
  insmod /lib/e1000.ko || fail "insmod e1000"
  ip link set lo up
  ip addr add 192.168.0.11/24 dev eth0 && ip link set eth0 up || fail "eth0 setup"
  n=0; while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
  bs=$(arg pxetest.blksize)
  client=$(arg pxetest.fetch_client)
  # An initrd built on a host without curl has none; the marker then says busybox, and the test decides.
  if [ "$client" = curl ] && ! command -v curl >/dev/null; then client=busybox; fi
  case "$client" in
  curl)
    # The command the product's README and netboot template tell a Kickstart %post to run.
    if [ -n "$bs" ]; then curl -s --tftp-blksize "$bs" "tftp://192.168.0.1/$remote" -o /tmp/fetched || fail "curl get $remote exited $?"
    else curl -s "tftp://192.168.0.1/$remote" -o /tmp/fetched || fail "curl get $remote exited $?"; fi;;
  busybox|"")
    client=busybox
    if [ -n "$bs" ] && [ "$bs" != 512 ]; then tftp -g -b "$bs" -r "$remote" -l /tmp/fetched 192.168.0.1 || fail "tftp get $remote"
    else tftp -g -r "$remote" -l /tmp/fetched 192.168.0.1 || fail "tftp get $remote"; fi;;
  *) fail "unknown pxetest.fetch_client=$client";;
  esac
  sum=$(sha256sum /tmp/fetched | cut -d' ' -f1)
  echo "${MARK.fetched} $remote size=$(wc -c < /tmp/fetched) sha256=$sum client=$client"
  fwant=$(arg pxetest.fetch_sha256)
  [ -z "$fwant" ] || [ "$fwant" = "$sum" ] || fail "sha256 of fetched $remote is $sum, expected $fwant"
fi
echo "${MARK.done} profile=$profile"
poweroff -f
sleep 30
`;

/**
 * The arm64 machines' /init: the installer's busybox (dynamically linked, so its libc comes
 * along), which has no --install; applets are called through it and the profile is read with
 * shell builtins only.
 */
const ARM64_INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read -r cmdline < /proc/cmdline
profile=\${cmdline#*pxetest.profile=}
profile=\${profile%% *}
echo "${MARK.init} profile=$profile arch=$(/bin/busybox uname -m)"
echo "${MARK.done} profile=$profile"
/bin/busybox poweroff -f
/bin/busybox sleep 30
`;

/** The files of the arm64 installer initrd an arm64 busybox needs, at their paths there. */
const ARM64_FILES = ["bin/busybox", "lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/libc.so.6"];

export interface BuiltFile {
  path: string;
  size: number;
  sha256: string;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

async function run(argv: string[], cwd?: string): Promise<Uint8Array> {
  const p = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).bytes(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err.trim()}`);
  return out;
}

/** The e1000 module built for the installer's kernel, taken from the installer's own initrd. */
async function extractE1000(workDir: string): Promise<string> {
  const dir = join(workDir, "di");
  mkdirSync(dir, { recursive: true });
  await run(["sh", "-c", `zcat "$0" | cpio -idm --quiet '*/e1000.ko'`, HOST.installerInitrd], dir);
  const found = new Bun.Glob("lib/modules/*/kernel/drivers/net/ethernet/intel/e1000/e1000.ko").scanSync({ cwd: dir });
  for (const rel of found) return join(dir, rel);
  throw new Error(`e1000.ko not found in ${HOST.installerInitrd}`);
}

/** Stage the busybox tree; extra files are written under the tree at their relative paths. */
async function stageTree(dir: string, e1000: string): Promise<void> {
  for (const d of ["bin", "sbin", "lib", "proc", "sys", "dev", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(HOST.busybox, join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  copyFileSync(e1000, join(dir, "lib/e1000.ko"));
  writeFileSync(join(dir, "init"), INIT_SCRIPT, { mode: 0o755 });
}

async function packCpio(treeDir: string, out: string, gzip = false): Promise<BuiltFile> {
  // Uncompressed newc by default: the kernel unpacks it without a decompressor, and the big
  // payload is random anyway. curl's libraries do shrink, and pxelinux moves only ~2 MB/s.
  const pack = `find . | sort | cpio -o -H newc --quiet --owner=0:0${gzip ? " | gzip -n -9" : ""} > "$0"`;
  await run(["sh", "-c", pack, out], treeDir);
  const size = Bun.file(out).size;
  return { path: out, size, sha256: await sha256File(out) };
}

/** The host's curl and what it needs to run, or why it cannot go into an initrd. */
export type CurlFiles = { files: string[] } | { missing: string };

export const HOST_CURL = "/usr/bin/curl";

/**
 * The files `ldd` names after "=>" or alone (the loader); the vDSO has no file. Any "not found"
 * means the host's own curl cannot run, so the guest's would not either.
 */
export function parseLdd(text: string): CurlFiles {
  const files: string[] = [];
  for (const line of text.split("\n")) {
    if (/=>\s*not found/.test(line)) return { missing: `ldd: ${line.trim()}` };
    const m = /(?:=>\s*|^\s*)(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) files.push(m[1]!);
  }
  return files.length ? { files } : { missing: "ldd listed no libraries" };
}

async function hostCurlFiles(): Promise<CurlFiles> {
  if (!existsSync(HOST_CURL)) return { missing: `${HOST_CURL} missing (apt-get install curl)` };
  const ldd = Bun.which("ldd");
  if (!ldd) return { missing: "ldd missing (libc-bin)" };
  const libs = parseLdd(new TextDecoder().decode(await run([ldd, HOST_CURL])));
  return "missing" in libs ? libs : { files: [HOST_CURL, ...libs.files] };
}

/**
 * curl and its libraries at the paths the host has them: the binary's interpreter and the
 * loader's built-in multiarch directories then find them without an ld.so.cache. No /etc is
 * needed: a tftp:// URL with an IP literal never reaches NSS (checked in a chroot of this tree).
 */
function stageCurl(dir: string, files: string[]): void {
  for (const f of files) {
    const to = join(dir, f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(f, to); // follows the host's symlinks: the soname links become plain files
    chmodSync(to, 0o755);
  }
}

export interface Payloads {
  /** The Debian installer's netboot kernel (the e1000 module in the initrds matches it). */
  kernel: string;
  /** The small initrd every ordinary boot uses. */
  initrd: BuiltFile;
  /** Build a > 32 MiB initrd holding a random file of `payloadBytes` at /payload.bin. */
  bigInitrd(payloadBytes: number): Promise<{ initrd: BuiltFile; payload: BuiltFile }>;
  /**
   * The small initrd plus the host's curl and its shared libraries (gzipped, ~9 MB instead of
   * ~21), built on first use; `curl` false where the host has no curl or no ldd (`why` says
   * which): then it is the busybox-only initrd and pxetest.fetch_client=curl falls back.
   */
  curlInitrd(): Promise<{ initrd: BuiltFile; curl: boolean; why?: string }>;
  /** An arm64 initrd (the installer's busybox and libc, and ARM64_INIT_SCRIPT), built on first use. */
  arm64Initrd(): Promise<BuiltFile>;
  /** A raw disk image whose MBR prints LOCAL-DISK-BOOT on COM1 and exits QEMU via isa-debug-exit. */
  localDisk: string;
  dir: string;
}

let cached: { dir: string; built: Promise<Payloads> } | undefined;

/** Built once and shared by the tests of a file; releasePayloads (an afterAll) deletes them. */
export function payloads(): Promise<Payloads> {
  if (!cached) {
    const dir = scratchDir("pxeboot-payload-");
    cached = { dir, built: buildPayloads(dir) };
  }
  return cached.built;
}

export async function releasePayloads(): Promise<void> {
  const c = cached;
  cached = undefined;
  if (!c) return;
  await c.built.catch(() => undefined);
  rmSync(c.dir, { recursive: true, force: true });
}

async function buildPayloads(dir: string): Promise<Payloads> {
  const e1000 = await extractE1000(dir);
  const small = join(dir, "tree-small");
  await stageTree(small, e1000);
  const initrd = await packCpio(small, join(dir, "initrd.img"));
  const localDisk = join(dir, "local-disk.img");
  writeFileSync(localDisk, localDiskImage());
  let withCurl: ReturnType<Payloads["curlInitrd"]> | undefined;
  let arm64: Promise<BuiltFile> | undefined;
  return {
    kernel: HOST.kernel,
    initrd,
    localDisk,
    dir,
    arm64Initrd() {
      arm64 ??= (async () => {
        const tree = join(dir, "tree-arm64");
        for (const d of ["proc", "dev"]) mkdirSync(join(tree, d), { recursive: true });
        await run(["sh", "-c", `zcat "$0" | cpio -idm --quiet ${ARM64_FILES.map((f) => `'${f}'`).join(" ")}`, HOST.arm64InstallerInitrd], tree);
        for (const f of ARM64_FILES) if (!existsSync(join(tree, f))) throw new Error(`${f} not found in ${HOST.arm64InstallerInitrd}`);
        writeFileSync(join(tree, "init"), ARM64_INIT_SCRIPT, { mode: 0o755 });
        return packCpio(tree, join(dir, "initrd-arm64.img"));
      })();
      return arm64;
    },
    curlInitrd() {
      withCurl ??= (async () => {
        const found = await hostCurlFiles();
        if ("missing" in found) {
          console.warn(`firmware payload: no curl in the initrd, busybox tftp fetches instead: ${found.missing}`);
          return { initrd, curl: false, why: found.missing };
        }
        const tree = join(dir, "tree-curl");
        await stageTree(tree, e1000);
        stageCurl(tree, found.files);
        return { initrd: await packCpio(tree, join(dir, "initrd-curl.img"), true), curl: true };
      })();
      return withCurl;
    },
    async bigInitrd(payloadBytes: number) {
      const tree = join(dir, `tree-big-${payloadBytes}`);
      await stageTree(tree, e1000);
      const payload = writeRandomFile(join(tree, "payload.bin"), payloadBytes);
      const built = await packCpio(tree, join(dir, `initrd-big-${payloadBytes}.img`));
      return { initrd: built, payload };
    },
  };
}

function writeRandomFile(path: string, bytes: number): BuiltFile {
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(1 << 20);
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, chunk.length);
      const part = chunk.subarray(0, n);
      randomFillSync(part);
      writeSync(fd, part);
      hash.update(part);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return { path, size: bytes, sha256: hash.digest("hex") };
}

/**
 * A 1 MiB disk whose boot sector (real mode, loaded at 0000:7C00) writes the marker to the UART
 * at 0x3F8 and then writes to QEMU's isa-debug-exit port 0xF4, which ends QEMU (exit status 3).
 * Hand-assembled: it is 28 bytes of code and not worth an assembler in CI.
 */
export function localDiskImage(): Uint8Array {
  const msg = new TextEncoder().encode(`${MARK.localDisk}\r\n\0`);
  const code = [
    0xfa, //             cli
    0x31, 0xc0, //       xor ax, ax
    0x8e, 0xd8, //       mov ds, ax
    0xbe, 0x1c, 0x7c, // mov si, 0x7C1C (the message, right after this code)
    0xba, 0xf8, 0x03, // mov dx, 0x3F8
    0xac, //             next: lodsb
    0x84, 0xc0, //       test al, al
    0x74, 0x03, //       jz done
    0xee, //             out dx, al
    0xeb, 0xf8, //       jmp next
    0xb0, 0x01, //       done: mov al, 1
    0xba, 0xf4, 0x00, // mov dx, 0xF4
    0xee, //             out dx, al
    0xf4, //             hlt
    0xeb, 0xfd, //       jmp hlt
  ];
  if (code.length !== 0x1c) throw new Error("boot sector code length changed: fix the message address");
  const disk = new Uint8Array(1 << 20);
  disk.set(code, 0);
  disk.set(msg, code.length);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/**
 * A fresh directory under PXEBOOT_FIRMWARE_TMP (made if missing) or the system temp dir, mode
 * 0755 rather than mkdtemp's 0700: a server that dropped privileges to nobody must still reach
 * the tree inside it (see reachableByAll in tree.ts for the directories above).
 */
export function scratchDir(prefix: string): string {
  const base = process.env.PXEBOOT_FIRMWARE_TMP ?? tmpdir();
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * A U-Boot legacy script image (what `mkimage -A x86 -O linux -T script -C none` writes): a
 * 64-byte big-endian header with CRC32s of itself and of the data, then a one-entry size table
 * and the script. U-Boot checks both CRCs before `source` runs it.
 */
export function ubootScriptImage(script: string, name = "pxeboot firmware test"): Uint8Array {
  const text = new TextEncoder().encode(script);
  const data = new Uint8Array(8 + text.length);
  const dv = new DataView(data.buffer);
  dv.setUint32(0, text.length);
  dv.setUint32(4, 0);
  data.set(text, 8);
  const image = new Uint8Array(64 + data.length);
  const h = new DataView(image.buffer);
  h.setUint32(0, 0x27051956); // magic
  h.setUint32(8, Math.floor(Date.now() / 1000)); // time
  h.setUint32(12, data.length); // size
  h.setUint32(24, Bun.hash.crc32(data)); // data CRC
  image[28] = 5; // OS: Linux
  image[29] = 3; // architecture: x86 (IH_ARCH_I386)
  image[30] = 6; // type: script
  image[31] = 0; // compression: none
  image.set(new TextEncoder().encode(name).subarray(0, 31), 32);
  h.setUint32(4, Bun.hash.crc32(image.subarray(0, 64))); // header CRC, computed with this field 0
  image.set(data, 64);
  return image;
}
