/**
 * Boot loader binaries pxeboot copies into a tree, and where Debian and RHEL packages put them.
 * Paths are looked up under `sysroot` (normally "/"), so tests can fake an installed system.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

export interface LoaderSource {
  distro: "Debian" | "RHEL";
  package: string;
  path: string;
}

export interface LoaderFile {
  /** Name in the tree, relative to the root. */
  dest: string;
  /** Required files make the BIOS boot work; the rest add UEFI/iPXE clients. */
  required: boolean;
  why: string;
  sources: LoaderSource[];
}

const DEB_BIOS = "/usr/lib/syslinux/modules/bios";
const RHEL_SYSLINUX = "/usr/share/syslinux";

function biosModule(name: string, required: boolean, why: string): LoaderFile {
  return {
    dest: name,
    required,
    why,
    sources: [
      { distro: "Debian", package: "syslinux-common", path: `${DEB_BIOS}/${name}` },
      { distro: "RHEL", package: "syslinux-nonlinux", path: `${RHEL_SYSLINUX}/${name}` },
    ],
  };
}

export const LOADER_FILES: readonly LoaderFile[] = [
  {
    dest: "pxelinux.0",
    required: true,
    why: "BIOS PXE boot loader",
    sources: [
      { distro: "Debian", package: "pxelinux", path: "/usr/lib/PXELINUX/pxelinux.0" },
      { distro: "RHEL", package: "syslinux-tftpboot", path: "/tftpboot/pxelinux.0" },
      { distro: "RHEL", package: "syslinux-nonlinux", path: `${RHEL_SYSLINUX}/pxelinux.0` },
    ],
  },
  biosModule("ldlinux.c32", true, "pxelinux core module, loaded right after pxelinux.0"),
  biosModule("libcom32.c32", false, "library for menu.c32 and chain.c32"),
  biosModule("libutil.c32", false, "library for menu.c32"),
  biosModule("menu.c32", false, "text menu, for configs that add one"),
  biosModule("chain.c32", false, "chain-loads a local disk where LOCALBOOT fails"),
  {
    dest: "syslinux.efi",
    required: false,
    why: "UEFI x64 syslinux: reads the same pxelinux.cfg entries, the preferred UEFI boot file",
    sources: [
      { distro: "Debian", package: "syslinux-efi", path: "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi" },
      { distro: "RHEL", package: "syslinux-efi64", path: `${RHEL_SYSLINUX}/efi64/syslinux.efi` },
    ],
  },
  {
    dest: "ldlinux.e64",
    required: false,
    why: "core module of syslinux.efi",
    sources: [
      { distro: "Debian", package: "syslinux-common", path: "/usr/lib/syslinux/modules/efi64/ldlinux.e64" },
      { distro: "RHEL", package: "syslinux-efi64", path: `${RHEL_SYSLINUX}/efi64/ldlinux.e64` },
    ],
  },
  {
    dest: "ipxe.efi",
    required: false,
    why: "iPXE for UEFI x64 clients (runs boot.ipxe; the UEFI boot file when syslinux.efi is absent)",
    sources: [
      { distro: "Debian", package: "ipxe", path: "/usr/lib/ipxe/ipxe.efi" },
      { distro: "RHEL", package: "ipxe-bootimgs-x86", path: "/usr/share/ipxe/ipxe-x86_64.efi" },
      { distro: "RHEL", package: "ipxe-bootimgs", path: "/usr/share/ipxe/ipxe.efi" },
    ],
  },
  {
    dest: "snponly.efi",
    required: false,
    why: "iPXE for UEFI x64 clients that keeps the firmware's network driver (for NICs ipxe.efi has no driver for)",
    sources: [
      { distro: "Debian", package: "ipxe", path: "/usr/lib/ipxe/snponly.efi" },
      { distro: "RHEL", package: "ipxe-bootimgs-x86", path: "/usr/share/ipxe/ipxe-snponly-x86_64.efi" },
    ],
  },
  // The Secure Boot chain: the firmware trusts shim (signed by Microsoft's UEFI CA), shim trusts
  // the distribution's GRUB. shim loads grub<arch>.efi from its own directory, so both sit at the
  // root; Debian's network GRUB has the prefix /grub built in, so it reads grub/grub.cfg.
  {
    dest: "shimx64.efi",
    required: false,
    why: "shim for UEFI x64 (Secure Boot on or off): the default UEFI x64 boot file, loads grubx64.efi",
    sources: [{ distro: "Debian", package: "shim-signed", path: "/usr/lib/shim/shimx64.efi.signed" }],
  },
  {
    dest: "grubx64.efi",
    required: false,
    why: "signed network GRUB for UEFI x64, loaded by shimx64.efi; reads grub/grub.cfg",
    sources: [{ distro: "Debian", package: "grub-efi-amd64-signed", path: "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" }],
  },
  {
    dest: "shimaa64.efi",
    required: false,
    why: "shim for UEFI arm64 (Secure Boot on or off): the UEFI arm64 boot file, loads grubaa64.efi",
    sources: [{ distro: "Debian", package: "shim-signed:arm64", path: "/usr/lib/shim/shimaa64.efi.signed" }],
  },
  {
    dest: "grubaa64.efi",
    required: false,
    why: "signed network GRUB for UEFI arm64, loaded by shimaa64.efi; reads grub/grub.cfg",
    sources: [{ distro: "Debian", package: "grub-efi-arm64-signed:arm64", path: "/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed" }],
  },
  {
    dest: "undionly.kpxe",
    required: false,
    why: "iPXE for BIOS clients that should run boot.ipxe",
    sources: [
      { distro: "Debian", package: "ipxe", path: "/usr/lib/ipxe/undionly.kpxe" },
      { distro: "RHEL", package: "ipxe-bootimgs-x86", path: "/usr/share/ipxe/undionly.kpxe" },
      { distro: "RHEL", package: "ipxe-bootimgs", path: "/usr/share/ipxe/undionly.kpxe" },
    ],
  },
];

/** The first readable source on this system, or undefined. */
export function findSource(file: LoaderFile, sysroot = "/"): LoaderSource | undefined {
  return file.sources.find((s) => {
    try {
      accessSync(join(sysroot, s.path), constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** "apt-get install pxelinux (Debian/Ubuntu) or dnf install syslinux-tftpboot (RHEL/Fedora)". */
export function installHint(file: LoaderFile): string {
  const deb = [...new Set(file.sources.filter((s) => s.distro === "Debian").map((s) => s.package))];
  const rhel = [...new Set(file.sources.filter((s) => s.distro === "RHEL").map((s) => s.package))];
  const apt = `apt-get install ${deb.join(" ")} (Debian/Ubuntu)`;
  return rhel.length ? `${apt} or dnf install ${rhel.join(" or ")} (RHEL/Fedora)` : apt;
}
