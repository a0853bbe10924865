/**
 * Whether firmware tests run here. They boot QEMU machines for minutes, so a developer's plain
 * `bun test` skips them (loudly) unless asked with PXEBOOT_FIRMWARE=1 or `npm run test:firmware`;
 * in CI (CI set) they always
 * run, and a machine that lacks a tool fails them instead of skipping: a green CI must mean the
 * machines booted.
 */
import { afterAll, test } from "bun:test";
import { releasePayloads } from "./payload.ts";
import { serverKind } from "./harness.ts";
import { DEBIAN_PACKAGES, preflight } from "./tools.ts";

type Body = () => Promise<void>;

// `npm run test:firmware` (which sets npm_lifecycle_event) is asking for them too.
const wanted =
  Boolean(process.env.CI) || process.env.PXEBOOT_FIRMWARE === "1" || process.env.npm_lifecycle_event === "test:firmware";
const check = wanted ? preflight() : { ok: false, problems: [] };
// With the dnsmasq stand-in (harness work before the server exists) the pxeboot binary is not needed.
const problems = serverKind() === "dnsmasq" ? check.problems.filter((p) => !p.startsWith("server under test")) : check.problems;

let warned = false;
function warnOnce(): void {
  if (warned) return;
  warned = true;
  const why = wanted ? problems.map((p) => `  - ${p}`).join("\n") : "  - set PXEBOOT_FIRMWARE=1 (or CI) to run them";
  console.warn(
    `\n*** FIRMWARE BOOT TESTS SKIPPED ***\n${why}\n  packages: apt-get install -y --no-install-recommends ${DEBIAN_PACKAGES.join(" ")}\n`,
  );
}

/** A named firmware boot test with its own time bound; runs, skips loudly, or fails for missing tools. */
export function firmwareTest(name: string, body: Body, timeoutMs: number): void {
  if (wanted && problems.length === 0) {
    afterAll(releasePayloads);
    test(name, body, timeoutMs);
  } else if (process.env.CI) {
    test(name, () => {
      throw new Error(`firmware test cannot run on this machine:\n${problems.join("\n")}`);
    });
  } else {
    warnOnce();
    test.skip(name, body);
  }
}
