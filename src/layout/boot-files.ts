/**
 * Which boot file each kind of client is given, best first: the one list the proxyDHCP offers
 * from (dhcp/boot-choice.ts) and `host which` follows (boot-chain.ts), so the dry run names the
 * file a real boot gets. init's DHCP snippets name the first of each.
 */

/** Boot files by what the firmware runs, best first; the first one present in the tree is offered. */
export const BOOT_FILES = {
  ipxe: ["boot.ipxe"],
  bios: ["pxelinux.0", "undionly.kpxe"],
  // shim → signed GRUB boots with Secure Boot on and off: what `init` makes the UEFI default.
  uefiX64: ["shimx64.efi", "syslinux.efi", "ipxe.efi"],
  uefiArm64: ["shimaa64.efi", "ipxe-arm64.efi", "bootnetaa64.efi", "grubaa64.efi"],
  httpX64: ["ipxe.efi"],
  httpArm64: ["shimaa64.efi", "ipxe-arm64.efi"],
} as const;

export type BootFamily = keyof typeof BOOT_FILES;

/** A loader that only works with another file beside it (as `init` lays them out). */
export const NEEDS: Partial<Record<string, string>> = {
  "syslinux.efi": "ldlinux.e64",
  "shimx64.efi": "grubx64.efi",
  "shimaa64.efi": "grubaa64.efi",
};

/** The family's boot files a tree can run, best first: present, with their companion beside them. */
export function usableBootFiles(family: BootFamily, has: (path: string) => boolean): string[] {
  return BOOT_FILES[family].filter((f) => has(f) && (NEEDS[f] === undefined || has(NEEDS[f]!)));
}
