/**
 * How tests start pxeboot: the compiled binary when `npm run build` made one (what users run),
 * else the sources through Bun (a quick `bun test` during development; PXEBOOT_FROM_SOURCE=1
 * forces that when dist/ is older than the sources; PXEBOOT_BIN names another binary).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

export function pxebootCommand(): string[] {
  if (process.env.PXEBOOT_BIN) return [process.env.PXEBOOT_BIN];
  const binary = join(ROOT, "dist/pxeboot");
  if (existsSync(binary) && !process.env.PXEBOOT_FROM_SOURCE) return [binary];
  return [process.execPath, join(ROOT, "src/cli/main.ts")];
}
