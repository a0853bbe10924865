/**
 * The one naming rule for files being written in the tree (install-once's links, learned MACs,
 * uploads): a unique hidden name beside the target, renamed into place when complete, so readers
 * never see half a file and `doctor` can tell a crash's leftovers from real files.
 */
import { dirname, join } from "node:path";

export const TEMP_TAG = ".pxeboot-tmp-";

export function tempName(path: string): string {
  const base = path.split("/").pop()!;
  const unique = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(path), `.${base}${TEMP_TAG}${unique}`);
}

export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(TEMP_TAG);
}
