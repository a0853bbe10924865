/**
 * What a reload compares row by row for the process (the server's own rows are its
 * reconfigure's): a changed row a SIGHUP cannot apply is named as waiting for a restart.
 */
import { NAMES, ROWS, type Name, type Typed } from "./schema.ts";

/** Rows of the process (who it runs as, how it logs, install-once, metrics, HTTP, proxy DHCP) that wait for a restart. */
export const PROCESS_RESTART: Name[] = NAMES.filter((n) => ROWS[n].scope === "process" && ROWS[n].applies === "restart");

/** Those whose typed value differs, by name. */
export function changedProcessRows(before: Typed, after: Typed): string[] {
  return PROCESS_RESTART.filter((n) => JSON.stringify(before[n]) !== JSON.stringify(after[n]));
}
