/**
 * Per-host boot control: which hosts netboot which profile. The state is the tree itself — a
 * host netboots while its per-host links exist, and has installed once install-once has taken
 * them away and left a record in .pxeboot/installed/.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { join, relative } from "node:path";
import { atomicSymlink, isErrno, isTempName, unlinkQuiet } from "./atomic.ts";
import {
  decodeHexName,
  decodeMacName,
  formatHexNetwork,
  hexIpName,
  hexIpSearch,
  macName,
  type IPv4,
  type Mac,
} from "./hexip.ts";
import type { HostSpec } from "./hostspec.ts";
import {
  PXELINUX_DIR,
  STATE_DIR,
  ipEntryNames,
  macEntryNames,
  profileFile,
  profileFromTarget,
  profileLinkTarget,
  stateFile,
  type HostEntryName,
} from "./paths.ts";

/** The host key used for records: the pxelinux per-host name (hex IP or 01-mac). */
function hostKeys(spec: HostSpec): { key: string; names: HostEntryName[] }[] {
  if (spec.kind === "mac") return [{ key: macName(spec.mac), names: macEntryNames(spec.mac) }];
  return spec.ips.map((ip) => ({ key: hexIpName(ip), names: ipEntryNames(ip) }));
}

export interface AddResult {
  /** Links created or replaced, relative to the root. */
  links: string[];
  /** Loaders skipped because the tree has no config of that profile for them. */
  skipped: string[];
  /** Hosts that were set to another profile before (re-adding switches them). */
  switched: { host: string; from: string }[];
}

/** Points each host at `profile` (already validated against the tree) for every loader present. */
export function addHosts(root: string, spec: HostSpec, profile: string): AddResult {
  const links: string[] = [];
  const skipped = new Set<string>();
  const switched: { host: string; from: string }[] = [];
  for (const { key, names } of hostKeys(spec)) {
    const before = linkedProfile(root, names);
    if (before !== undefined && before !== profile) switched.push({ host: describeName(key) ?? key, from: before });
    for (const n of names) {
      if (!existsSync(join(root, profileFile(n.loader, profile)))) {
        skipped.add(profileFile(n.loader, profile));
        continue;
      }
      atomicSymlink(join(root, n.path), profileLinkTarget(n.loader, profile));
      links.push(n.path);
    }
    // Re-adding a host means "install it again": the old record no longer describes it.
    unlinkQuiet(join(root, stateFile(key)));
  }
  return { links, skipped: [...skipped], switched };
}

/** The profile a host's entries point to now; the pxelinux link is the authority, the others confirm it. */
export function linkedProfile(root: string, names: HostEntryName[]): string | undefined {
  const ordered = [...names.filter((n) => n.loader === "pxelinux"), ...names.filter((n) => n.loader !== "pxelinux")];
  for (const n of ordered) {
    try {
      const p = profileFromTarget(readlinkSync(join(root, n.path)));
      if (p) return p;
    } catch {
      // no entry for this loader, or a hand-written file
    }
  }
  return undefined;
}

/** Removes every per-host link (and install record) of the hosts; returns what was there. */
export function removeHosts(root: string, spec: HostSpec): string[] {
  const removed: string[] = [];
  for (const { key, names } of hostKeys(spec)) {
    for (const n of names) if (unlinkQuiet(join(root, n.path))) removed.push(n.path);
    if (unlinkQuiet(join(root, stateFile(key)))) removed.push(stateFile(key));
  }
  return removed;
}

export interface HostListing {
  /** 192.168.0.11, 192.168.0.0/24 (a prefix name) or aa:bb:cc:dd:ee:ff. */
  host: string;
  /** The pxelinux per-host name. */
  file: string;
  profile: string;
  state: "pending" | "installed";
  /** For installed hosts: when install-once removed the entry (ISO time). */
  installedAt?: string;
}

/** What install-once writes for a host, and `host list` reads back. */
export interface InstallRecord {
  host: string;
  file: string;
  profile: string;
  time: string;
  /** The host's MAC when install-once knew it (neighbour table or `host add --ip`). */
  mac?: Mac;
}

function describeName(name: string): string | undefined {
  const mac = decodeMacName(name);
  if (mac) return mac;
  const net = decodeHexName(name);
  return net ? formatHexNetwork(net) : undefined;
}

function sortKey(l: HostListing): string {
  const hex = decodeHexName(l.file);
  return hex ? `0${hex.network.toString(16).padStart(8, "0")}${l.file.length}` : `1${l.file}`;
}

/** Pending hosts (links in pxelinux.cfg) and installed hosts (records), sorted by address. */
export function listHosts(root: string): HostListing[] {
  const out: HostListing[] = [];
  const cfg = join(root, PXELINUX_DIR);
  for (const name of safeReaddir(cfg)) {
    const host = describeName(name);
    if (!host) continue;
    let target = "";
    try {
      target = readlinkSync(join(cfg, name));
    } catch (err) {
      if (!isErrno(err, "EINVAL")) continue;
    }
    out.push({ host, file: name, profile: profileFromTarget(target) ?? (target || "(own file)"), state: "pending" });
  }
  const pending = new Set(out.map((l) => l.file));
  for (const name of safeReaddir(join(root, STATE_DIR))) {
    if (isTempName(name) || pending.has(name)) continue;
    const rec = readRecord(join(root, STATE_DIR, name));
    if (rec) out.push({ host: rec.host, file: name, profile: rec.profile, state: "installed", installedAt: rec.time });
  }
  return out.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
}

function readRecord(path: string): InstallRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as Partial<InstallRecord>;
    if (typeof r.host === "string" && typeof r.profile === "string" && typeof r.time === "string")
      return { host: r.host, file: r.file ?? "", profile: r.profile, time: r.time };
  } catch {
    // An unreadable record is not worth failing a listing for; doctor reports it.
  }
  return undefined;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export interface WhichStep {
  /** Path relative to the root, as pxelinux requests it. */
  path: string;
  why: string;
  exists: boolean;
  /** For symlinks: the link text. */
  linkTarget?: string;
  /** The file finally read, relative to the root (or an explanation when it escapes/dangles). */
  resolved?: string;
  chosen: boolean;
}

/**
 * The exact search pxelinux walks for a client: UUID (when known), 01-MAC (when known), the
 * hex IP shrinking one digit at a time, then "default"; the first existing file wins.
 */
export function whichHost(root: string, client: { ip?: IPv4; mac?: Mac; uuid?: string }): WhichStep[] {
  const candidates: { name: string; why: string }[] = [];
  if (client.uuid) candidates.push({ name: client.uuid, why: "client UUID" });
  if (client.mac) candidates.push({ name: macName(client.mac), why: "MAC (01 = Ethernet)" });
  if (client.ip !== undefined)
    for (const name of hexIpSearch(client.ip)) {
      const net = decodeHexName(name)!;
      candidates.push({ name, why: `IP ${formatHexNetwork(net)}` });
    }
  candidates.push({ name: "default", why: "fallback" });
  return firstExisting(root, candidates.map(({ name, why }) => ({ path: `${PXELINUX_DIR}/${name}`, why })));
}

/**
 * A loader's config search over `candidates` (paths relative to the root), in its order: each
 * looked up (a link and where it leads), the first that exists marked chosen.
 */
export function firstExisting(root: string, candidates: { path: string; why: string }[]): WhichStep[] {
  let chosen = false;
  return candidates.map(({ path, why }) => {
    const step: WhichStep = { path, why, exists: false, chosen: false };
    const full = join(root, path);
    try {
      const st = lstatSync(full);
      if (st.isSymbolicLink()) step.linkTarget = readlinkSync(full);
      step.resolved = resolveInside(root, full);
      step.exists = !step.resolved.startsWith("(");
    } catch {
      return step;
    }
    if (step.exists && !chosen) chosen = step.chosen = true;
    return step;
  });
}

/** Where a link ends up, relative to the root; "(dangling)" or "(outside the root: …)" otherwise. */
export function resolveInside(root: string, full: string): string {
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    return "(dangling)";
  }
  const rel = relative(realpathSync(root), real);
  return rel.startsWith("..") || rel.startsWith("/") ? `(outside the root: ${real})` : rel;
}
