/**
 * --pidfile (tftpd-hpa's -P): the listening server's process ID, written once the port is bound
 * (before root is dropped, so /run is writable) and removed on a clean stop. As with tftpd-hpa,
 * failing to write or remove it is logged, not fatal: the server itself is fine.
 */
import { unlinkSync, writeFileSync } from "node:fs";

/** Undefined when written; else why not. */
export function writePidfile(path: string, pid = process.pid): string | undefined {
  try {
    writeFileSync(path, `${pid}\n`);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

export function removePidfile(path: string): string | undefined {
  try {
    unlinkSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}
