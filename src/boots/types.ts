/**
 * A host's boots as pxeboot saw them: every request a host makes is one event, and a boot is the
 * run of events from its first-stage loader to the kernel, the marker, or silence. The events
 * are what is stored (so a fold can be recomputed, by any server of a shared root); the boots
 * and their verdicts are derived from them (fold.ts).
 */

/** What a file is to a boot, by its name and place in the tree (classify.ts). */
export type StepKind = "offer" | "loader" | "module" | "config" | "kernel" | "initrd" | "marker" | "other";

/** One request of a host, as stored: short keys, since 10,000 hosts × a ring of them add up. */
export interface BootEvent {
  /** Wall-clock ms when the request ended. */
  t: number;
  /** Client address (plain IPv4/IPv6 literal). */
  a: string;
  /** The file as the client named it (after remapping, root-relative when confined). */
  f: string;
  k: StepKind;
  /** "tftp", "http", or "dhcp" for the proxy's offer (its file is the boot file offered). */
  via: "tftp" | "http" | "dhcp";
  /** ok, error, timeout or probe: the transfer log's outcome. */
  o: string;
  /** Bytes delivered and the file's size (-1 unknown). */
  b: number;
  s: number;
  /** Duration in ms. */
  d: number;
  /** TFTP error code, or the HTTP status for http. */
  c?: number;
  /** Retransmissions (TFTP). */
  r?: number;
  /** Block size in force (TFTP): a timeout's block is bytes ÷ it + 1. */
  bs?: number;
  /** The reason logged for a failure, shortened. */
  why?: string;
  /** A served config that sends the host to its local disk (config-intent.ts). */
  lb?: true;
}

export type Verdict =
  | "booted"
  | "installed"
  /** A config was served and no kernel asked after it: the config chose the local disk. */
  | "local-boot"
  | "offered-not-fetched"
  | "loader-failed"
  | "config-missing"
  | "transfer-timeout"
  | "http-404"
  | "file-missing"
  | "transfer-failed"
  | "in-progress";

export interface BootStep {
  at: number;
  file: string;
  kind: StepKind;
  via: "tftp" | "http" | "dhcp";
  outcome: string;
  bytes: number;
  size: number;
  ms: number;
  code?: number;
  retransmits?: number;
  reason?: string;
  /** A config that boots the local disk. */
  localBoot?: boolean;
}

export interface Boot {
  startedAt: number;
  endedAt: number;
  /** The address the host used in this boot (a host keyed by MAC may change it). */
  address: string;
  steps: BootStep[];
  verdict: Verdict;
  /** What the verdict names: the file (and block) it stopped at. */
  detail?: string;
}

/** The verdicts of a boot that did not get where it was going (the farm page and status list them). */
export const FAILED_VERDICTS: ReadonlySet<string> = new Set<Verdict>(["loader-failed", "config-missing", "transfer-timeout", "http-404", "file-missing", "transfer-failed", "offered-not-fetched"]);
