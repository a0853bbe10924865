/**
 * Builds the single pxeboot executable with `bun build --compile`.
 *   bun build.ts                         → dist/pxeboot for this machine
 *   bun build.ts --target linux-arm64    → dist/pxeboot-linux-arm64 (any Bun target: linux-x64,
 *                                          linux-arm64, linux-x64-musl, linux-arm64-musl, …)
 */
import { mkdirSync } from "node:fs";

const KNOWN = ["linux-x64", "linux-arm64", "linux-x64-musl", "linux-arm64-musl", "linux-x64-baseline", "linux-x64-modern", "darwin-x64", "darwin-arm64"];

function parse(argv: string[]): string | undefined {
  let target: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--target") target = argv[++i];
    else if (a.startsWith("--target=")) target = a.slice(9);
    else {
      console.error(`build.ts: unknown argument '${a}' (usage: bun build.ts [--target ${KNOWN.join("|")}])`);
      process.exit(2);
    }
  }
  if (target !== undefined && !KNOWN.includes(target)) {
    console.error(`build.ts: unknown target '${target}' (one of ${KNOWN.join(", ")})`);
    process.exit(2);
  }
  return target;
}

const target = parse(process.argv.slice(2));
const outfile = target ? `dist/pxeboot-${target}` : "dist/pxeboot";
mkdirSync("dist", { recursive: true });

const cmd = [
  process.execPath,
  "build",
  "src/cli/main.ts",
  "--compile",
  "--minify-syntax",
  "--format=esm",
  "--bytecode",
  // The binary must not pick up .env or bunfig.toml from whatever directory the admin runs it in.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  ...(target ? [`--target=bun-${target}`] : []),
  `--outfile=${outfile}`,
];
const proc = Bun.spawnSync(cmd, { stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) process.exit(proc.exitCode ?? 1);
console.log(`built ${outfile}`);
