/** `pxeboot get tftp://HOST[:PORT]/FILE`: fetch one file, like a PXE ROM would but from a shell. */
import { defineCommand } from "citty";
import { fetchFile, summary } from "../client/fetch.ts";
import { fileSink, stdoutSink } from "../client/file-sink.ts";
import { statusLine } from "../client/status-line.ts";
import { parseTftpUri, UriError } from "../client/uri.ts";
import { MAX_BLOCK_SIZE, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE, type TransferMode } from "../protocol/types.ts";
import { guarded, intArg, secondsArg, UsageError } from "./args.ts";

/** Seconds as a decimal (0.5 is a fair retransmit timeout on a LAN), returned in ms. */
export const secondsArgMs = (flag: string, value: unknown, min: number, max: number): number => Math.round(secondsArg(flag, value, min, max) * 1000);

export function modeArg(value: unknown): TransferMode {
  const m = String(value).toLowerCase();
  if (m !== "octet" && m !== "netascii") throw new UsageError(`--mode must be octet or netascii, got '${value}'`);
  return m;
}

export function uriArg(value: unknown) {
  try {
    return parseTftpUri(String(value ?? ""));
  } catch (err) {
    if (err instanceof UriError) throw new UsageError(err.message);
    throw err;
  }
}

function defaultOutput(file: string): string {
  const name = file.split("/").filter(Boolean).pop();
  if (!name || name === "." || name === "..") throw new UsageError(`cannot name the output after '${file}': use -o OUT`);
  return name;
}

export default guarded(
  "get",
  defineCommand({
    meta: { name: "get", description: "Download a file from a TFTP server (RFC 3617 URI)" },
    args: {
      uri: { type: "positional", description: "tftp://HOST[:PORT]/FILE[;mode=netascii]", required: true },
      output: { type: "string", valueHint: "OUT", alias: "o", description: "Output file; - for stdout (default: the file's base name)" },
      blksize: { type: "string", valueHint: "N", description: "Block size to ask for (8-65464)", default: "1468" },
      windowsize: { type: "string", valueHint: "N", description: "Window size to ask for (RFC 7440; 1 = lockstep, not sent)", default: "1" },
      mode: { type: "string", valueHint: "octet|netascii", description: "octet or netascii (default: the URI's ;mode=, else octet)" },
      timeout: { type: "string", valueHint: "S", description: "Seconds to wait before re-sending", default: "1" },
      retries: { type: "string", valueHint: "N", description: "Re-sends without progress before giving up", default: "5" },
    },
    async run({ args }) {
      const uri = uriArg(args.uri);
      const blockSize = intArg("blksize", args.blksize, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
      const windowSize = intArg("windowsize", args.windowsize, 1, MAX_WINDOW_SIZE);
      const mode = args.mode !== undefined ? modeArg(args.mode) : (uri.mode ?? "octet");
      const timeoutMs = secondsArgMs("timeout", args.timeout, 0.01, 255);
      const retries = intArg("retries", args.retries, 0, 1000);
      const output = args.output ?? defaultOutput(uri.file);
      const toStdout = output === "-";

      const sink = toStdout ? stdoutSink() : fileSink(output);
      const abort = new AbortController();
      const onSignal = () => abort.abort("interrupted");
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const result = await fetchFile({
          uri,
          mode,
          blockSize,
          windowSize: windowSize > 1 ? windowSize : undefined,
          timeoutMs,
          retries,
          sink,
          status: statusLine(),
          signal: abort.signal,
        });
        const line = summary(result, sink.target);
        // With the data on stdout, the summary must not mix into it.
        (toStdout ? process.stderr : process.stdout).write(line + "\n");
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    },
  }),
);
