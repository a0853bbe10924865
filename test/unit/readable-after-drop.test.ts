/**
 * Whether the user serve drops to can still read what it reads again later (the root, the files
 * SIGHUP re-reads), from the mode bits as the kernel applies them after the drop.
 */
import { describe, expect, test } from "bun:test";
import { unreadableBy, type StatFn } from "../../src/cli/readable-after-drop.ts";

const TFTP = { uid: 102, gid: 105 };

/** A tree of [uid, gid, mode] by path; a missing path throws as stat does. */
function fs(entries: Record<string, [number, number, number]>): StatFn {
  return (p) => {
    const e = entries[p];
    if (!e) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    const [uid, gid, mode] = e;
    return { uid, gid, mode, isDirectory: () => (mode & 0o40000) !== 0 };
  };
}
const DIR = 0o40000;

describe("readable after dropping root", () => {
  const base = { "/": [0, 0, DIR | 0o755], "/etc": [0, 0, DIR | 0o755] } as Record<string, [number, number, number]>;
  test.each([
    ["a world-readable file", { "/etc/map": [0, 0, 0o644] }, "/etc/map", undefined],
    ["a root-only file", { "/etc/map": [0, 0, 0o600] }, "/etc/map", { problem: "cannot read it (0:0 0600)", fix: "chmod o+r /etc/map" }],
    ["group-readable for the user's primary group", { "/etc/map": [0, 105, 0o640] }, "/etc/map", undefined],
    ["the group class applies, not other", { "/etc/map": [0, 105, 0o604] }, "/etc/map", { problem: "cannot read it (0:105 0604)", fix: "chmod o+r /etc/map" }],
    ["owned by the user", { "/etc/map": [102, 0, 0o400] }, "/etc/map", undefined],
    ["a directory on the way it cannot enter", { "/etc/tftp": [0, 0, DIR | 0o700], "/etc/tftp/map": [0, 0, 0o644] }, "/etc/tftp/map", { problem: "cannot enter /etc/tftp (0:0 0700)", fix: "chmod o+x /etc/tftp" }],
    ["a root it can enter but not list", { "/srv": [0, 0, DIR | 0o711] }, "/srv", { problem: "cannot read it (0:0 0711)", fix: "chmod o+rx /srv" }],
    ["a missing file: said by what reads it", {}, "/etc/none", undefined],
  ])("%s", (_what, entries, path, expected) => {
    expect(unreadableBy(path as string, TFTP, fs({ ...base, ...(entries as Record<string, [number, number, number]>) }))).toEqual(expected as never);
  });
});
