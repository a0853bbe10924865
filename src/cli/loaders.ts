/** `pxeboot loaders [TREE]`: the boot loaders built into pxeboot, and how a tree's compare. */
import { defineCommand } from "citty";
import { statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../layout/atomic.ts";
import { BUILTIN_MANIFEST, builtinBytes } from "../loaders/builtin.ts";
import { formatBuiltin, formatLicenses, formatTree } from "../loaders/report.ts";
import { compareTreeLoaders } from "../loaders/tree-loaders.ts";
import { guarded, UsageError } from "./args.ts";

export default guarded(
  "loaders",
  defineCommand({
    meta: { name: "loaders", description: "List the built-in boot loaders (version, sha256, licence); with TREE, which of its loaders match, differ or are missing" },
    args: {
      tree: { type: "positional", description: "A tftproot to compare with the built-in loaders", required: false },
      licenses: { type: "boolean", description: "Each loader's licence and where its corresponding source is" },
      update: { type: "boolean", description: "With TREE: write the built-in loaders where the tree's differ or are missing" },
    },
    async run({ args }) {
      if (args.licenses) {
        process.stdout.write(formatLicenses(BUILTIN_MANIFEST) + "\n");
        return;
      }
      if (args.tree === undefined) {
        if (args.update) throw new UsageError("--update needs the tree to write to: pxeboot loaders TREE --update");
        process.stdout.write(formatBuiltin(BUILTIN_MANIFEST) + "\n");
        return;
      }
      const root = args.tree;
      let isDir = false;
      try {
        isDir = statSync(root).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) throw new UsageError(`${root} is not a directory: create the tree with pxeboot init ${root}`);
      const before = compareTreeLoaders(root);
      if (!args.update) {
        process.stdout.write(formatTree(root, before) + "\n");
        if (before.some((l) => l.state !== "match")) process.exitCode = 1;
        return;
      }
      for (const l of before) {
        if (l.state === "match") continue;
        writeFileAtomic(join(root, l.entry.file), builtinBytes(l.entry.file), 0o644);
        process.stdout.write(`${l.state === "missing" ? "wrote" : "replaced"}  ${l.entry.file}  (built in: ${l.entry.package} ${l.entry.version})\n`);
      }
      process.stdout.write(formatTree(root, compareTreeLoaders(root)) + "\n");
    },
  }),
);
