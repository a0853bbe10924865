/** Users and groups by name, and dropping root after the port is bound, as a daemon on port 69 should. */
import { readFileSync } from "node:fs";
import type { Identity } from "../layout/writable.ts";
import type { Logger } from "../log.ts";
import { UsageError } from "../usage-error.ts";
import { dropBoundingSet, dropCapabilities, setNoNewPrivs } from "./lockdown.ts";
import { isWorker } from "./role.ts";

/** Name → [id, field 3] from /etc/passwd or /etc/group (uid,gid or gid,members). */
function readDb(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return out; // a bare image without the file: numeric ids still work
  }
  for (const line of text.split("\n")) {
    const cols = line.split(":");
    if (cols[0] && cols[2] !== undefined) out.set(cols[0], cols.slice(2));
  }
  return out;
}

export function lookupUser(name: string, flag = "--user"): Identity {
  const row = readDb("/etc/passwd").get(name);
  if (row && /^\d+$/.test(row[0]!) && /^\d+$/.test(row[1] ?? "")) return { name, uid: Number(row[0]), gid: Number(row[1]) };
  if (/^[0-9]+$/.test(name)) return { name, uid: Number(name), gid: Number(name) };
  throw new UsageError(`${flag}: no such user '${name}' (try ${flag} nobody)`);
}

export function lookupGroup(name: string, flag: string): number {
  const row = readDb("/etc/group").get(name);
  if (row && /^\d+$/.test(row[0]!)) return Number(row[0]);
  if (/^[0-9]+$/.test(name)) return Number(name);
  throw new UsageError(`${flag}: no such group '${name}' (see getent group)`);
}

/** "USER" (its primary group) or "USER:GROUP", as chown takes it. */
export function parseOwner(spec: string, flag: string): Identity {
  const [user, group, extra] = spec.split(":");
  if (!user || extra !== undefined || group === "")
    throw new UsageError(`${flag} needs USER or USER:GROUP (e.g. ${flag} tftp), got '${spec}'`);
  const ids = lookupUser(user, flag);
  return group === undefined ? ids : { ...ids, name: spec, gid: lookupGroup(group, flag) };
}

/** Whom a daemon started as root runs as when not told: tftpd-hpa's package user, else nobody. */
export const DEFAULT_USERS = ["tftp", "nobody"];

export function defaultServiceUser(): Identity {
  const passwd = readDb("/etc/passwd");
  for (const name of DEFAULT_USERS) if (passwd.has(name)) return lookupUser(name);
  throw new UsageError(`no user ${DEFAULT_USERS.join(" or ")} on this host: pass --user NAME (or --user root to stay root)`);
}

export interface ServiceIdentity {
  /** Drop to this once every socket is bound; undefined: keep running as we are. */
  drop?: Identity;
  /** Said at start-up at warning level. */
  warning?: string;
}

/**
 * Who the server runs as. Started as root it always drops (a TFTP server reads files for
 * anyone who asks, and root can read them all), to --user or the default user; staying root
 * takes an explicit --user root. Started unprivileged it stays as it is.
 */
export function serviceIdentity(user: string | undefined, group: string | undefined, uid: number): ServiceIdentity {
  if (uid !== 0) {
    if (user !== undefined || group !== undefined)
      throw new UsageError(`--user/--group need the server to start as root (it runs as uid ${uid}); leave them out`);
    return {};
  }
  if (user === "root" || user === "0") {
    if (group !== undefined) throw new UsageError("--group has no effect with --user root: leave it out");
    return { warning: "running as root (--user root): every file root can read may be served to any client" };
  }
  const ids = user === undefined ? defaultServiceUser() : lookupUser(user);
  return { drop: group === undefined ? ids : { ...ids, name: `${ids.name}:${group}`, gid: lookupGroup(group, "--group") } };
}

export function dropPrivileges(ids: Identity): void {
  if (process.getuid?.() !== 0) throw new UsageError(`--user needs the server to start as root (it runs as uid ${process.getuid?.()})`);
  process.setgroups?.([]);
  process.setgid?.(ids.gid);
  process.setuid?.(ids.uid);
}

/**
 * The server's last step as root, every socket bound: become `user`, or, started as a user,
 * give up the capabilities it was started with.
 */
export function dropToServingUser(user: Identity | undefined, log: Logger): void {
  if (user) {
    // The bounding set goes while we still may (CAP_SETPCAP), no-new-privs once we are the user:
    // nothing this process runs from here on (an --on-install hook) can regain root.
    dropBoundingSet();
    dropPrivileges(user);
    const nnp = setNoNewPrivs();
    if (!isWorker) log.info("dropped privileges", { user: user.name, uid: user.uid, gid: user.gid, noNewPrivs: nnp });
  } else if (process.getuid?.() !== 0) {
    // Started as a user: capabilities it was given (systemd-unit --as-user) were for binding.
    dropCapabilities();
    setNoNewPrivs();
  }
}
