/**
 * Lines a storm can raise thousands of times a second (requests dropped past the queue, put back
 * for want of descriptors, or from denied addresses) become one summary line per second. This
 * throttles log lines only; what is answered is admission's business (admission/token-buckets.ts).
 */
import type { Logger } from "../../log.ts";

export function summarizedWarning(log: Logger, message: string, queued: () => number) {
  return summarized(log, "warn", message, queued);
}

export function summarized(log: Logger, level: "info" | "warn", message: string, queued: () => number) {
  let count = 0;
  let last = { client: "", file: "" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    note(client: string, file: string) {
      count++;
      last = { client, file };
      timer ??= setTimeout(() => {
        log[level](message, { requests: count, queued: queued(), lastClient: last.client, lastFile: last.file || undefined });
        count = 0;
        timer = undefined;
      }, 1000);
    },
  };
}

