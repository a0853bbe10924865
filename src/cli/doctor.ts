/** `pxeboot doctor [ROOT]`: check a tftproot; one line per finding with its fix, exit 1 on problems. */
import { defineCommand } from "citty";
import { checkTree, formatFindings } from "../layout/doctor.ts";
import { guarded } from "./args.ts";
import { lookupUser } from "./privileges.ts";
import { DEFAULT_ROOT } from "../config/schema.ts";

export default guarded(
  "doctor",
  defineCommand({
    meta: { name: "doctor", description: "Check a PXE tftproot: loaders, links, hex names, kernels, big files" },
    args: {
      root: { type: "positional", description: "The tftproot to check", required: false, default: DEFAULT_ROOT },
      user: { type: "string", description: "The user serve serves clients as (serve --user): it must not own boot control", valueHint: "NAME" },
    },
    async run({ args }) {
      const user = args.user === undefined ? undefined : lookupUser(args.user);
      const findings = checkTree(args.root, { user, uid: process.getuid?.() });
      const problems = findings.filter((f) => f.severity === "problem").length;
      const warnings = findings.length - problems;
      const summary = `${args.root}: ${problems} problem(s), ${warnings} warning(s)`;
      process.stdout.write([...formatFindings(findings), summary].join("\n") + "\n");
      if (problems > 0) process.exitCode = 1;
    },
  }),
);
