/**
 * How many HTTP connections a process holds, decided from its open-file limit, and which one
 * makes room for a newcomer. Every connection is a descriptor; a process that runs out of them
 * can no longer open the file a TFTP client asked for, and its accept loop (Bun's, uSockets')
 * retries EMFILE at full speed. So the connections stay well below the limit, in total and per
 * client address, and at either bound the connection idle the longest is closed first; one
 * that is answering a request is never closed for a newcomer (then the newcomer is). Pure.
 */

export interface ConnectionLimits {
  /** Connections at once, all addresses together. */
  total: number;
  /** Connections at once from one client address. */
  perAddress: number;
}

/** Past this many a process's connections cost more memory than a boot farm needs. */
const TOTAL_CEILING = 4096;

/**
 * Half the descriptors still free at start-up (the other half is TFTP's: a transfer holds its
 * file until the cache has it), at most TOTAL_CEILING; one address gets an eighth of that, at
 * least 2. An eighth, not a small fixed number: one address may be many clients (a NAT, a proxy,
 * a test rig with 100 curls), and a bound that scales with the limit still keeps one address
 * from taking every descriptor (nofile 256: 13; 1024: 61; systemd's 65536: 512).
 */
export function limitsFor(openFileLimit: number, openAtStart: number): ConnectionLimits {
  const free = Math.max(0, openFileLimit - openAtStart);
  const total = Math.max(1, Math.min(TOTAL_CEILING, Math.floor(free / 2)));
  const perAddress = Math.max(1, Math.min(total, Math.max(2, Math.floor(total / 8))));
  return { total, perAddress };
}

export interface TrackedConnection {
  address: string;
  /** A request is being answered: never closed to make room. */
  busy: boolean;
  /** Since when it has waited for a request (ms, any clock): the smallest goes first. */
  idleSinceMs: number;
}

export type Admission<T> = { admit: true; evict?: T } | { admit: false; reason: string };

/** Whether a new connection from `address` may stay, and which held one to close for it. */
export function admit<T extends TrackedConnection>(held: Iterable<T>, address: string, limits: ConnectionLimits): Admission<T> {
  let total = 0;
  let mine = 0;
  let oldestIdle: T | undefined;
  let myOldestIdle: T | undefined;
  for (const c of held) {
    total++;
    if (c.address === address) mine++;
    if (c.busy) continue;
    if (!oldestIdle || c.idleSinceMs < oldestIdle.idleSinceMs) oldestIdle = c;
    if (c.address !== address) continue;
    if (!myOldestIdle || c.idleSinceMs < myOldestIdle.idleSinceMs) myOldestIdle = c;
  }
  if (mine >= limits.perAddress) return myOldestIdle ? { admit: true, evict: myOldestIdle } : { admit: false, reason: `${limits.perAddress} connections from this address, all busy` };
  if (total >= limits.total) return oldestIdle ? { admit: true, evict: oldestIdle } : { admit: false, reason: `${limits.total} connections, all busy` };
  return { admit: true };
}

/** The soft open-file limit of this process (from /proc/self/limits), or undefined where unreadable. */
export function parseOpenFileLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (!m) return undefined;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}
