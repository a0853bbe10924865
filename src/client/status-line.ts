/**
 * One line on stderr that redraws in place, for progress on a terminal. Does nothing when stderr
 * is not a TTY, so piped output and logs stay clean.
 */
export interface StatusLine {
  /** Redraws with `render()` if the last redraw is older than the interval (or `force`). */
  update(render: () => string, force?: boolean): void;
  /** Erases the line so the next output starts clean. */
  clear(): void;
}

export function statusLine(intervalMs = 100, stream: NodeJS.WriteStream = process.stderr): StatusLine {
  if (!stream.isTTY) return { update() {}, clear() {} };
  let last = 0;
  let shown = false;
  return {
    update(render, force = false) {
      const now = performance.now();
      if (!force && now - last < intervalMs) return;
      last = now;
      const width = Math.max(20, (stream.columns || 80) - 1);
      stream.write(`\r\x1b[2K${render().slice(0, width)}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\x1b[2K");
      shown = false;
    },
  };
}
