/** The --on-install environment is documented where an admin looks: the README and serve --help. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HOOK_ENVIRONMENT, hookEnvironmentHelp } from "../../src/layout/install-once.ts";

describe("--on-install environment", () => {
  test("the README's table has one row per variable, with the same words", () => {
    const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `(PXEBOOT_[A-Z_]+)` \| (.*) \|$/gm)].map((m) => [m[1], m[2]!.replaceAll("`", "")]);
    expect(rows).toEqual(Object.entries(HOOK_ENVIRONMENT));
  });

  test("serve --help's note names every variable", () => {
    const help = hookEnvironmentHelp();
    for (const [name, what] of Object.entries(HOOK_ENVIRONMENT)) expect(help).toContain(`${name.padEnd(16)} ${what}\n`);
  });
});
