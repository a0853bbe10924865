/**
 * Where the firmware tests find what Debian installs, and whether this machine can run them.
 * Every path here comes from one Debian package; a missing one is reported with that package's
 * name so the fix is one `apt-get install` away.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export interface Requirement {
  what: string;
  path: string;
  debianPackage: string;
}

const DI = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64";
const DI_ARM64 = "/usr/lib/debian-installer/images/12/arm64/text/debian-installer/arm64";

/** Host files the boot trees and machines are made from. */
export const HOST = {
  qemu: "/usr/bin/qemu-system-x86_64",
  qemuArm64: "/usr/bin/qemu-system-aarch64",
  /** EDK2 for arm64 QEMU `virt` machines; the .ms builds have Microsoft's keys enrolled (Secure Boot on). */
  aavmfCode: "/usr/share/AAVMF/AAVMF_CODE.fd",
  aavmfVars: "/usr/share/AAVMF/AAVMF_VARS.fd",
  aavmfMsCode: "/usr/share/AAVMF/AAVMF_CODE.ms.fd",
  aavmfMsVars: "/usr/share/AAVMF/AAVMF_VARS.ms.fd",
  /** Debian's signed arm64 installer kernel, and its initrd (the source of an arm64 busybox and libc). */
  arm64Kernel: join(DI_ARM64, "linux"),
  arm64InstallerInitrd: join(DI_ARM64, "initrd.gz"),
  /** 32-bit U-Boot (the 64-bit build cannot start a kernel), run as the BIOS of a 64-bit QEMU machine. */
  ubootRom: "/usr/lib/u-boot/qemu-x86/u-boot.rom",
  dnsmasq: "/usr/sbin/dnsmasq",
  ip: "/usr/sbin/ip",
  ss: "/usr/bin/ss",
  cpio: "/usr/bin/cpio",
  busybox: "/bin/busybox",
  pxelinux: "/usr/lib/PXELINUX/pxelinux.0",
  ldlinuxBios: "/usr/lib/syslinux/modules/bios/ldlinux.c32",
  syslinuxEfi: "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi",
  ldlinuxEfi: "/usr/lib/syslinux/modules/efi64/ldlinux.e64",
  ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
  ovmfVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
  /** OVMF built for Secure Boot (needs SMM), and variables with Microsoft's keys enrolled: enforcing. */
  ovmfSecbootCode: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
  ovmfMsVars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
  /** iPXE as a UEFI application: what UEFI HTTP Boot loads from a URL. */
  ipxeEfi: "/usr/lib/ipxe/ipxe.efi",
  /** QEMU's default option ROM for an e1000 NIC: iPXE, which is the BIOS machines' PXE firmware. */
  ipxeRom: "/usr/lib/ipxe/qemu/efi-e1000.rom",
  /** The Debian installer's netboot kernel: one small bzImage with no initrd of its own needed. */
  kernel: join(DI, "linux"),
  /** The installer's initrd, used only as the source of the e1000 module matching that kernel. */
  installerInitrd: join(DI, "initrd.gz"),
} as const;

export const REQUIREMENTS: Requirement[] = [
  { what: "QEMU (x86-64, TCG)", path: HOST.qemu, debianPackage: "qemu-system-x86" },
  { what: "U-Boot for QEMU x86 (32-bit)", path: HOST.ubootRom, debianPackage: "u-boot-qemu" },
  { what: "iPXE option ROM for the e1000 NIC", path: HOST.ipxeRom, debianPackage: "ipxe-qemu" },
  { what: "OVMF code", path: HOST.ovmfCode, debianPackage: "ovmf" },
  { what: "ipxe.efi (for UEFI HTTP Boot)", path: HOST.ipxeEfi, debianPackage: "ipxe" },
  { what: "OVMF variables template", path: HOST.ovmfVars, debianPackage: "ovmf" },
  { what: "OVMF with Secure Boot", path: HOST.ovmfSecbootCode, debianPackage: "ovmf" },
  { what: "QEMU (arm64, TCG)", path: HOST.qemuArm64, debianPackage: "qemu-system-arm" },
  { what: "AAVMF code", path: HOST.aavmfCode, debianPackage: "qemu-efi-aarch64" },
  { what: "AAVMF variables template", path: HOST.aavmfVars, debianPackage: "qemu-efi-aarch64" },
  { what: "AAVMF code (Secure Boot)", path: HOST.aavmfMsCode, debianPackage: "qemu-efi-aarch64" },
  { what: "AAVMF variables with Microsoft's keys", path: HOST.aavmfMsVars, debianPackage: "qemu-efi-aarch64" },
  { what: "arm64 netboot kernel", path: HOST.arm64Kernel, debianPackage: "debian-installer-12-netboot-arm64" },
  { what: "arm64 netboot initrd (busybox and libc source)", path: HOST.arm64InstallerInitrd, debianPackage: "debian-installer-12-netboot-arm64" },
  { what: "OVMF variables with Microsoft's keys", path: HOST.ovmfMsVars, debianPackage: "ovmf" },
  { what: "pxelinux.0", path: HOST.pxelinux, debianPackage: "pxelinux" },
  { what: "ldlinux.c32", path: HOST.ldlinuxBios, debianPackage: "syslinux-common" },
  { what: "syslinux.efi (x86-64)", path: HOST.syslinuxEfi, debianPackage: "syslinux-efi" },
  { what: "ldlinux.e64", path: HOST.ldlinuxEfi, debianPackage: "syslinux-efi" },
  { what: "static busybox", path: HOST.busybox, debianPackage: "busybox-static" },
  { what: "cpio", path: HOST.cpio, debianPackage: "cpio" },
  { what: "dnsmasq (DHCP only)", path: HOST.dnsmasq, debianPackage: "dnsmasq-base" },
  { what: "ip (netns, bridge, tap)", path: HOST.ip, debianPackage: "iproute2" },
  { what: "ss (readiness probe)", path: HOST.ss, debianPackage: "iproute2" },
  { what: "netboot kernel", path: HOST.kernel, debianPackage: "debian-installer-12-netboot-amd64" },
  { what: "netboot initrd (e1000 module source)", path: HOST.installerInitrd, debianPackage: "debian-installer-12-netboot-amd64" },
];

/** The exact list `.ci/run` installs for these tests (`apt-get install --no-install-recommends`). */
export const DEBIAN_PACKAGES = [...new Set(REQUIREMENTS.map((r) => r.debianPackage))];

export const REPO_ROOT = resolve(import.meta.dir, "../..");

/** The server under test: the compiled binary, overridable for trying another build. */
export function pxebootBinary(): string {
  return process.env.PXEBOOT_BIN ?? join(REPO_ROOT, "dist/pxeboot");
}

/** True when the ELF file has no PT_INTERP program header, i.e. needs no dynamic loader. */
export function isStaticElf(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || view.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) return false;
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return false;
    if (view.getUint32(at, true) === 3) return false;
  }
  return true;
}

export interface Preflight {
  ok: boolean;
  problems: string[];
}

/** Everything a firmware boot needs from this machine, checked without starting anything. */
export function preflight(): Preflight {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push("not root: network namespaces, taps and port 69 need root");
  if (!existsSync("/dev/net/tun")) problems.push("/dev/net/tun is missing: QEMU cannot open a tap");
  for (const r of REQUIREMENTS) {
    if (!existsSync(r.path)) problems.push(`${r.what}: ${r.path} missing (apt-get install ${r.debianPackage})`);
  }
  if (existsSync(HOST.busybox) && !isStaticElf(readFileSync(HOST.busybox))) {
    problems.push(`${HOST.busybox} is dynamically linked (apt-get install busybox-static)`);
  }
  const bin = pxebootBinary();
  if (!existsSync(bin)) problems.push(`server under test ${bin} missing (npm run build)`);
  return { ok: problems.length === 0, problems };
}
