/** `pxeboot bench tftp://HOST[:PORT]/FILE`: a boot storm in one process, against any TFTP server. */
import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { formatSummary } from "../bench/report.ts";
import { runBench } from "../bench/run.ts";
import { summarize } from "../bench/summarize.ts";
import type { BenchOptions } from "../bench/types.ts";
import { formatBytes, formatRate } from "../client/format.ts";
import { statusLine } from "../client/status-line.ts";
import { resolveHost } from "../client/uri.ts";
import { MAX_BLOCK_SIZE, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE } from "../protocol/types.ts";
import { guarded, intArg, UsageError } from "./args.ts";
import { secondsArgMs, uriArg } from "./get.ts";

function percentArg(value: unknown): number {
  const s = String(value).trim();
  const n = /^[0-9]+(\.[0-9]+)?$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n < 100)) throw new UsageError(`--loss needs a percentage from 0 to below 100, got '${s}'`);
  return n;
}

function verifyArg(value: unknown): BenchOptions["verify"] {
  if (value === "sha256" || value === "bytes") return value;
  throw new UsageError(`--verify must be sha256 or bytes, got '${value}'`);
}

function expectation(args: { expectSha256?: string; local?: string }): BenchOptions["expect"] {
  if (args.expectSha256 !== undefined && args.local !== undefined) {
    throw new UsageError("--expect-sha256 and --local say the same thing: give one");
  }
  if (args.expectSha256 !== undefined) {
    const hex = args.expectSha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new UsageError("--expect-sha256 needs 64 hex digits");
    return { sha256: hex };
  }
  if (args.local !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(args.local);
    } catch (err) {
      throw new UsageError(`--local ${args.local}: ${(err as { code?: string }).code ?? String(err)}`);
    }
    return { sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"), size: bytes.length, bytes };
  }
  return undefined;
}

export default guarded(
  "bench",
  defineCommand({
    meta: { name: "bench", description: "Load-test a TFTP server: many clients at once, every download verified" },
    args: {
      uri: { type: "positional", description: "tftp://HOST[:PORT]/FILE", required: true },
      clients: { type: "string", valueHint: "N", description: "Downloads in total", default: "100" },
      concurrency: { type: "string", valueHint: "C", description: "Downloads running at once (one UDP socket each)", default: "100" },
      blksize: { type: "string", valueHint: "B", description: "Block size to ask for (not sent when absent)" },
      windowsize: { type: "string", valueHint: "W", description: "Window size to ask for (RFC 7440; not sent when absent)" },
      probe: { type: "boolean", description: "PXE ROM size probes: RRQ with tsize, then ERROR 8 on the OACK" },
      loss: { type: "string", valueHint: "PCT", description: "Percent of received DATA to drop on purpose", default: "0" },
      timeout: { type: "string", valueHint: "S", description: "Seconds before a client re-sends (doubles per retry, up to 8×)", default: "1" },
      retries: { type: "string", valueHint: "N", description: "Re-sends without progress before a client gives up", default: "5" },
      "duration-max": { type: "string", valueHint: "S", description: "Stop after this many seconds; unfinished clients count as aborted", default: "600" },
      "expect-sha256": { type: "string", valueHint: "HEX", description: "sha256 every download must have" },
      local: { type: "string", valueHint: "FILE", description: "A local copy of the file: its size and sha256 are expected" },
      verify: {
        type: "string",
        valueHint: "sha256|bytes",
        description: "sha256 (hash every download) or bytes (compare each block with --local: cheaper)",
        default: "sha256",
      },
      json: { type: "boolean", description: "Print the summary as JSON" },
    },
    async run({ args }) {
      const uri = uriArg(args.uri);
      const clients = intArg("clients", args.clients, 1, 1_000_000);
      const timeoutMs = secondsArgMs("timeout", args.timeout, 0.01, 255);
      const opts: BenchOptions = {
        server: { address: await resolveHost(uri.host), port: uri.port },
        file: uri.file,
        clients,
        concurrency: intArg("concurrency", args.concurrency, 1, 100_000),
        blockSize: args.blksize !== undefined ? intArg("blksize", args.blksize, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE) : undefined,
        windowSize: args.windowsize !== undefined ? intArg("windowsize", args.windowsize, 1, MAX_WINDOW_SIZE) : undefined,
        probe: Boolean(args.probe),
        lossPercent: percentArg(args.loss),
        timeoutMs,
        timeoutMaxMs: timeoutMs * 8,
        retries: intArg("retries", args.retries, 0, 1000),
        durationMaxMs: secondsArgMs("duration-max", args["duration-max"], 0.1, 86_400),
        expect: expectation({ expectSha256: args["expect-sha256"], local: args.local }),
        verify: verifyArg(args.verify),
      };
      if (opts.verify === "bytes" && !opts.expect?.bytes) throw new UsageError("--verify bytes needs --local FILE");
      if (uri.mode === "netascii") throw new UsageError("bench downloads in octet mode: drop ;mode=netascii");

      const run = runBench(opts);
      const status = statusLine(200);
      const begun = performance.now();
      const ticker = setInterval(() => {
        const p = run.progress;
        const rate = formatRate(p.bytes, performance.now() - begun);
        status.update(
          () =>
            `${p.finished}/${clients} done (${p.ok} ok, ${p.failed} not), ${p.started - p.finished} running, ` +
            `${formatBytes(p.bytes)} ${rate}`,
          true,
        );
      }, 200);
      const { results, wallMs, cpuMs, negotiated } = await run.done;
      clearInterval(ticker);
      status.clear();

      const summary = summarize(opts, String(args.uri), results, wallMs, negotiated, cpuMs);
      process.stdout.write((args.json ? JSON.stringify(summary) : formatSummary(summary)) + "\n");
      if (summary.ok !== clients) process.exitCode = 1;
    },
  }),
);
