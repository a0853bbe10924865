/**
 * Tests that need what a machine may lack: root, a tool, a source tree. bun's `describe.if` and
 * `test.skipIf` skip without a word, so on a runner that is not root the privilege drop or the
 * MTU-aware block size would never be tested and nothing would say so. Here, as in
 * test/firmware/gate.ts: what is missing is said once per file and the tests are skipped, except
 * under CI (CI set), where they fail: a green CI must mean they ran. Something CI may lack on
 * purpose (a package it does not install) says why in `optionalInCi`, and is skipped there too.
 */
import { describe, test } from "bun:test";

export interface Need {
  /** Whether this machine has it. */
  present: boolean;
  /** What it is, for the message: "root", "systemd-analyze", "ATFTP_SRC (atftp's source)". */
  what: string;
  /** Why CI may go without it; absent: CI must have it. */
  optionalInCi?: string;
}

const said = new Set<string>();

function sayOnce(need: Need, name: string): void {
  const key = `${need.what}\0${name}`;
  if (said.has(key)) return;
  said.add(key);
  console.warn(`*** SKIPPED (needs ${need.what}${need.optionalInCi ? `; ${need.optionalInCi}` : ""}): ${name}`);
}

const mustRun = (need: Need) => Boolean(process.env.CI) && !need.optionalInCi;

/** `describe` when the need is met; otherwise skipped loudly, or failed under CI. */
export function describeNeeding(need: Need, name: string, body: () => void): void {
  if (need.present) return describe(name, body);
  if (mustRun(need))
    return describe(name, () =>
      test(`needs ${need.what}`, () => {
        throw new Error(`${name}: cannot run on this machine without ${need.what}`);
      }),
    );
  sayOnce(need, name);
  describe.skip(name, body);
}

/** `test` when the need is met; otherwise skipped loudly, or failed under CI. */
export function testNeeding(need: Need, name: string, body: () => unknown, timeoutMs?: number): void {
  if (need.present) return void test(name, body as () => Promise<void>, timeoutMs);
  if (mustRun(need))
    return void test(name, () => {
      throw new Error(`${name}: cannot run on this machine without ${need.what}`);
    });
  sayOnce(need, name);
  test.skip(name, body as () => Promise<void>);
}

export const ROOT: Need = { present: process.getuid?.() === 0, what: "root" };
