/**
 * Whether a boot config that was served sends the host to its local disk: then a boot that
 * fetched it and nothing after is done ("local-boot") at once, not after the quiet gap. Read from
 * the config text the way each loader reads it, as far as that needs: pxelinux's DEFAULT label
 * (LOCALBOOT in its block, or no kernel anywhere), GRUB and iPXE scripts with no kernel command.
 */

const PXELINUX_KERNEL = /^\s*(KERNEL|LINUX|COM32|CONFIG|PXE|FDIMAGE|BSS|BOOT)\s+\S/im;
const SCRIPT_KERNEL = /^\s*(linux|linuxefi|linux16|kernel|chain|chainloader|imgexec|boot\s+\S|sanboot|configfile|source|multiboot2?)\b/m;

export function configBootsLocally(file: string, text: string): boolean {
  if (/(^|\/)pxelinux\.cfg\//.test(file) || /\.conf$/.test(file)) return pxelinuxLocal(text);
  return !SCRIPT_KERNEL.test(text.replace(/#.*$/gm, ""));
}

function pxelinuxLocal(text: string): boolean {
  const lines = text.replace(/\r/g, "").split("\n").map((l) => l.trim());
  const def = lines.find((l) => /^(DEFAULT|ONTIMEOUT)\s+/i.test(l))?.replace(/^\S+\s+/, "").trim();
  if (def) {
    const start = lines.findIndex((l) => new RegExp(`^LABEL\\s+${def.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`, "i").test(l));
    if (start >= 0) {
      const end = lines.findIndex((l, i) => i > start && /^LABEL\s/i.test(l));
      const block = lines.slice(start + 1, end < 0 ? undefined : end);
      if (block.some((l) => /^LOCALBOOT\b/i.test(l))) return true;
      if (block.some((l) => PXELINUX_KERNEL.test(l))) return false;
    }
    // "DEFAULT vmlinuz args": the default is itself a kernel.
    if (start < 0 && !/\.c32$/i.test(def.split(/\s+/)[0]!)) return false;
  }
  return !lines.some((l) => PXELINUX_KERNEL.test(l)) && !lines.some((l) => /^INCLUDE\s/i.test(l));
}
