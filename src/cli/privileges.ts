/** Dropping root after the port is bound, as a daemon on port 69 should. */
import { readFileSync } from "node:fs";
import { UsageError } from "./args.ts";

export function lookupUser(name: string): { uid: number; gid: number } {
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    // fall through to the numeric form
  }
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  if (/^[0-9]+$/.test(name)) return { uid: Number(name), gid: Number(name) };
  throw new UsageError(`--user: no such user '${name}' (try --user nobody)`);
}

export function dropPrivileges(name: string): { uid: number; gid: number } {
  const ids = lookupUser(name);
  if (process.getuid?.() !== 0) throw new UsageError(`--user needs the server to start as root (it runs as uid ${process.getuid?.()})`);
  process.setgroups?.([]);
  process.setgid?.(ids.gid);
  process.setuid?.(ids.uid);
  return ids;
}
