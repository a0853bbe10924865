/** Process limits that bound how many transfers can run: every transfer holds one socket. */
import { readFileSync } from "node:fs";

/** The soft limit on open files, from /proc (Linux); undefined where it can't be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === "unlimited" ? Infinity : soft ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}
