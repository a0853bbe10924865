/**
 * What a requested file is to a boot, from its name: the loaders, modules and config names are
 * the ones the boot loaders pxeboot serves ask for (see layout/paths.ts); kernels and initrds are
 * recognised by the names distributions give them. A name that fits none is "other" (it never
 * decides a verdict on its own).
 */
import type { StepKind } from "./types.ts";

const LOADER = /(^|\/)(pxelinux\.0|lpxelinux\.0|gpxelinux\.0|undionly\.kpxe|undionly\.kkpxe|ipxe\.pxe|ipxe\.efi|snponly\.efi|snp\.efi|syslinux\.efi|shim(x64|aa64|ia32)?\.efi|grub(net)?(x64|aa64|ia32)\.efi|bootx64\.efi|bootaa64\.efi|boot\.scr\.uimg|[^/]*\.(kpxe|kkpxe|pxe|efi|0))$/i;
const MODULE = /\.(c32|e32|e64|mod|lst)$/i;
const CONFIG = /(^|\/)(pxelinux\.cfg\/[^/]+|grub\/[^/]*\.cfg|grub\.cfg[^/]*|ipxe\/[^/]+\.ipxe|[^/]*\.ipxe|autoexec\.ipxe|boot\.cfg|extlinux\.conf)$/i;
const KERNEL = /(^|\/)(vmlinu[xz][^/]*|linux[^/]*|bzImage[^/]*|kernel[^/]*|Image(\.gz)?|zImage|uImage|wimboot|memdisk)$/i;
const INITRD = /(^|\/)(initrd[^/]*|initramfs[^/]*|[^/]*\.(cpio|cpio\.gz|cpio\.xz|img|igz))$/i;

export function classify(file: string, marker: string): StepKind {
  const name = file.replace(/^\/+/, "");
  if (name === marker) return "marker";
  // shim's revocation/certificate files end in .efi but are its optional extras, not a new loader.
  if (/(^|\/)(revocations_[a-z]+|shim_certificate_\d+)\.efi$/i.test(name)) return "module";
  if (CONFIG.test(name)) return "config";
  if (MODULE.test(name)) return "module";
  if (KERNEL.test(name)) return "kernel";
  if (INITRD.test(name)) return "initrd";
  if (LOADER.test(name)) return "loader";
  return "other";
}
