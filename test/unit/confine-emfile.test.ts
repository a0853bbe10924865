/**
 * Out of descriptors anywhere in confine()'s path (openat2 beneath the root, the root's own open,
 * the fallback without openat2 through realpath and /proc/self/fd) is EMFILE, which the server
 * takes as a shortage to wait out (isOutOfFiles), never a refusal sent to the client. Run in a
 * child under `prlimit --nofile=64` that fills its descriptor table first.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src/files");

const child = (root: string, noOpenat2: boolean, openRootFirst: boolean) => `
import { openSync } from "node:fs";
import { confine, isOutOfFiles } from ${JSON.stringify(join(SRC, "confine.ts"))};
import { _pretendNoOpenat2 } from ${JSON.stringify(join(SRC, "beneath.ts"))};
if (${noOpenat2}) _pretendNoOpenat2(true);
if (${openRootFirst}) confine(${JSON.stringify(root)}, "hello.txt");
try { for (;;) openSync("/dev/null", "r"); } catch {}
const out = {};
for (const name of ["hello.txt", "link.txt", "missing.txt", "dir/file.txt"]) {
  try { confine(${JSON.stringify(root)}, name); out[name] = "opened"; }
  catch (e) { out[name] = isOutOfFiles(e) ? "shortage" : "refused: " + (e?.code ?? e?.message); }
}
console.log(JSON.stringify(out));
`;

describe("confine() with no descriptor left", () => {
  for (const noOpenat2 of [false, true])
    for (const openRootFirst of [true, false])
      test(`${noOpenat2 ? "without" : "with"} openat2, root ${openRootFirst ? "held" : "not yet opened"}: every lookup is a shortage`, async () => {
        const root = mkdtempSync(join(tmpdir(), "confine-emfile-"));
        try {
          writeFileSync(join(root, "hello.txt"), "hi\n");
          chmodSync(join(root, "hello.txt"), 0o644);
          symlinkSync("hello.txt", join(root, "link.txt"));
          const script = join(root, "child.ts");
          writeFileSync(script, child(root, noOpenat2, openRootFirst));
          const p = Bun.spawn(["prlimit", "--nofile=64", process.execPath, script], { stdout: "pipe", stderr: "pipe" });
          const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
          expect(err).toBe("");
          expect(JSON.parse(out)).toEqual({ "hello.txt": "shortage", "link.txt": "shortage", "missing.txt": "shortage", "dir/file.txt": "shortage" });
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      });
});
