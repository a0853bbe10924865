/**
 * What a proxyDHCP offers a PXE client, decided from the tree as facts handed in (no file system
 * here): which boot file its firmware can run, whether the host is one `host add` named, and
 * whether install-once has already sent it to local boot. The boot files and their order are
 * layout/boot-files.ts's, which `host which` follows too.
 */
import { BOOT_FILES, usableBootFiles, type BootFamily } from "../layout/boot-files.ts";
import { ARCH, type PxeRequest } from "./pxe-request.ts";

/** What the tree says about one host (by MAC), read by tree-facts.ts. */
export interface HostFacts {
  /** `host add MAC PROFILE` made entries for it and they are still there. */
  pending: boolean;
  /** Install-once removed its entries after it fetched the marker (a record is left). */
  installed: boolean;
  profile?: string;
}

export interface TreeFacts {
  /** A file exists (and is a file) at this path relative to the root. */
  has(path: string): boolean;
  host(mac: string): HostFacts;
}

export interface BootPolicy {
  /** --proxy-dhcp-known-only: hosts `host add` never named get no offer. */
  knownOnly: boolean;
  /** --http's port, when the root is also served over HTTP (HTTP Boot clients need it). */
  httpPort?: number;
}

export type BootChoice =
  | {
      answer: true;
      /** The file field: a path for TFTP, a URL for HTTP Boot and iPXE over HTTP. */
      file: string;
      /** PXE discovery control (option 43, sub-option 6 = 8): boot this file, skip the boot server discovery. */
      discoveryControl: boolean;
      profile?: string;
      registered: boolean;
    }
  | { answer: false; reason: string };

function family(req: PxeRequest): BootFamily | undefined {
  // iPXE runs boot.ipxe whatever the machine; checked first, as iPXE also sends option 93.
  if (req.ipxe) return "ipxe";
  switch (req.arch) {
    case ARCH.BIOS:
      return "bios";
    case ARCH.EFI_IA32:
    case ARCH.EFI_X64:
    case ARCH.EFI_BC:
      return "uefiX64";
    case ARCH.EFI_ARM64:
      return "uefiArm64";
    case ARCH.EFI_X64_HTTP:
      return "httpX64";
    case ARCH.EFI_ARM64_HTTP:
      return "httpArm64";
    default:
      return undefined;
  }
}

export function chooseBoot(req: PxeRequest, tree: TreeFacts, policy: BootPolicy, serverAddress: string): BootChoice {
  const host = tree.host(req.mac);
  if (host.installed && !host.pending) return { answer: false, reason: "installed: install-once sent this host to local boot" };
  if (policy.knownOnly && !host.pending) return { answer: false, reason: "not a host named by `host add` (--proxy-dhcp-known-only)" };
  const fam = family(req);
  if (!fam) return { answer: false, reason: `client architecture ${req.arch} has no boot file here` };
  // syslinux.efi is only useful with its core module next to it, shim with its GRUB.
  const file = usableBootFiles(fam, (f) => tree.has(f))[0];
  if (!file) return { answer: false, reason: `the tree has none of ${BOOT_FILES[fam].join(", ")} for this client` };
  const overHttp = fam === "httpX64" || fam === "httpArm64" || (fam === "ipxe" && policy.httpPort !== undefined);
  if (overHttp && policy.httpPort === undefined) return { answer: false, reason: "an HTTP Boot client, and serve has no --http to give it a URL" };
  const base = { discoveryControl: req.vendorClass === "PXEClient", registered: host.pending, ...(host.profile ? { profile: host.profile } : {}) };
  if (overHttp) return { answer: true, file: `http://${serverAddress}:${policy.httpPort}/${file}`, ...base };
  return { answer: true, file, ...base };
}
