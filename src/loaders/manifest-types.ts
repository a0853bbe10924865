/**
 * The shape of assets/loaders/manifest.json: every boot loader built into pxeboot, the Debian
 * package it came from, and where its corresponding source is (GPL-2/GPL-3 ask that it be said).
 */

export interface SourcePackage {
  /** Debian source package ("syslinux", "grub2", "shim"). */
  package: string;
  version: string;
  /** SPDX identifier of the package's main licence. */
  license: string;
  /** Browsable source of exactly this version. */
  sources: string;
  /** The .dsc and tarballs of exactly this version, kept for good by snapshot.debian.org. */
  snapshot: string;
}

export interface ManifestEntry {
  /** Name in the tree and in assets/loaders/. */
  file: string;
  /** Debian binary package, its architecture and version. */
  package: string;
  arch: string;
  version: string;
  /** Where the package installs it. */
  path: string;
  size: number;
  sha256: string;
  /** The source packages it was built from (a signed package's code is in what it was built using). */
  sources: SourcePackage[];
}

export interface LoaderManifest {
  suite: string;
  files: ManifestEntry[];
}

export function sourceUrls(pkg: string, version: string): { sources: string; snapshot: string } {
  return {
    sources: `https://sources.debian.org/src/${pkg}/${version}/`,
    snapshot: `https://snapshot.debian.org/package/${pkg}/${encodeURIComponent(version)}/`,
  };
}
