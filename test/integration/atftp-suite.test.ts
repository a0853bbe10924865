/**
 * atftp 0.8.0's own test suite (its test/test.sh) against pxeboot, through test/atftp-suite/run.sh.
 * The suite is not part of this repository: set ATFTP_SRC to an unpacked atftp source tree
 * (`apt-get source atftp` with a deb-src line) to run it; it takes about a minute.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { run } from "./harness.ts";
import { testNeeding } from "../gate.ts";

const source = process.env.ATFTP_SRC;

const SOURCE = { present: !!source, what: "ATFTP_SRC, an unpacked atftp source tree", optionalInCi: "CI fetches it with apt-get source where a deb-src line allows" };

testNeeding(SOURCE, "every get and put line of atftp's test.sh passes", async () => {
  const r = await run([join(import.meta.dir, "../atftp-suite/run.sh"), source!], 600_000);
  const summary = r.stdout.split("\n").find((l) => l.startsWith("get: ") && l.includes(" of ")) ?? r.stdout + r.stderr;
  expect(summary).toBe("get: 24 of 24 OK, put: 24 of 24 OK (test.sh has 24 of each)");
  expect(r.code).toBe(0);
  // Its 200 clients at once print `got wrong block N, sending extra ACK` for every DATA block
  // resent while they were only slow: 661 on 2 vCPUs before spurious resends were detected,
  // 1 to 21 with the detection and a 20 ms timeout floor, none with the 200 ms floor.
  const extraAcks = (r.stdout.match(/sending extra ACK/g) ?? []).length;
  console.log(`atftp high-load test: ${extraAcks} 'sending extra ACK' lines`);
  expect(extraAcks).toBe(0);
}, 600_000);
