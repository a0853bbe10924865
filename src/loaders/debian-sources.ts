/**
 * Which Debian source packages hold a binary package's corresponding source, from its control
 * fields (used by scripts/refresh-loaders.ts to write the manifest). A signed package
 * (shim-signed, grub-efi-amd64-signed) is built from a source that holds only signatures; its
 * code is what it was "Built-Using" (shim, grub2).
 */
import { sourceUrls, type SourcePackage } from "./manifest-types.ts";

export interface ControlFields {
  package: string;
  version: string;
  /** "syslinux", "shim-signed (1.51~1+deb12u1)", or "" when the source is named as the package. */
  source: string;
  /** "grub2 (= 2.06-13+deb12u2)", "gnu-efi (= 3.0.9-1)", or "". */
  builtUsing: string;
}

/** Licence of each corresponding source package (its debian/copyright's main licence). */
export const SOURCE_LICENSES: Readonly<Record<string, string>> = {
  syslinux: "GPL-2.0-or-later",
  ipxe: "GPL-2.0-or-later",
  shim: "BSD-2-Clause",
  grub2: "GPL-3.0-or-later",
  "gnu-efi": "BSD-3-Clause",
};

export function correspondingSources(f: ControlFields, licenses: Readonly<Record<string, string>> = SOURCE_LICENSES): SourcePackage[] {
  const built: { name: string; version: string }[] = [];
  for (const part of f.builtUsing ? f.builtUsing.split(",") : []) {
    const m = /^\s*([a-z0-9.+-]+)\s*\(\s*=\s*([^)\s]+)\s*\)\s*$/.exec(part);
    if (!m) throw new Error(`${f.package}: cannot read Built-Using '${part.trim()}'`);
    built.push({ name: m[1]!, version: m[2]! });
  }
  const sm = /^([a-z0-9.+-]+)(?:\s*\(([^)]+)\))?$/.exec(f.source.trim());
  const own = sm ? { name: sm[1]!, version: sm[2] ?? f.version } : { name: f.package, version: f.version };
  // Debian names signed packages' sources (and binaries) *-signed.
  const signed = /-signed$/.test(own.name) && built.length > 0;
  return (signed ? built : [own, ...built]).map((s) => {
    const license = licenses[s.name];
    if (!license) throw new Error(`no licence known for source package ${s.name}: add it to SOURCE_LICENSES`);
    return { package: s.name, version: s.version, license, ...sourceUrls(s.name, s.version) };
  });
}
