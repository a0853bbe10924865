/**
 * Where a download's bytes go: a temporary file next to the target, renamed into place only when
 * the transfer succeeded (a failed get never leaves a truncated file), or standard output.
 * Writes are batched into a buffer because blocks arrive a few hundred bytes at a time.
 */
import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface Sink {
  write(chunk: Uint8Array): void;
  /** Flushes and moves the file into place. */
  commit(): void;
  /** Drops whatever was written (the temporary file is removed). */
  discard(): void;
  /** For messages: the final path, or "stdout". */
  readonly target: string;
}

const BUFFER_BYTES = 1 << 20;

class BufferedFd {
  private readonly buf = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  constructor(readonly fd: number) {}

  write(chunk: Uint8Array): void {
    if (chunk.length > this.buf.length - this.used) this.flush();
    if (chunk.length >= this.buf.length) {
      writeAll(this.fd, chunk);
      return;
    }
    this.buf.set(chunk, this.used);
    this.used += chunk.length;
  }

  flush(): void {
    if (this.used === 0) return;
    writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

export function fileSink(path: string): Sink {
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new Error(`${path} is a directory: name the output file with -o`);
  // A device or pipe (-o /dev/null, a FIFO) is written directly: renaming over it would replace it.
  if (existing && !existing.isFile()) return deviceSink(path);
  const dir = dirname(path);
  const where = statSync(dir, { throwIfNoEntry: false });
  if (!where) throw new Error(`-o ${path}: the directory ${dir} does not exist: create it, or write elsewhere`);
  if (!where.isDirectory()) throw new Error(`-o ${path}: ${dir} is not a directory`);
  const temp = join(dir, `.${basename(path)}.part-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(temp, "w", 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") throw new Error(`-o ${path}: no permission to write in ${dir}`);
    throw err;
  }
  const out = new BufferedFd(fd);
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    closeSync(out.fd);
  };
  return {
    target: path,
    write: (chunk) => out.write(chunk),
    commit() {
      out.flush();
      close();
      renameSync(temp, path);
    },
    discard() {
      close();
      try {
        unlinkSync(temp);
      } catch {
        // already gone
      }
    },
  };
}

function deviceSink(path: string): Sink {
  const out = new BufferedFd(openSync(path, "w"));
  const close = () => closeSync(out.fd);
  return {
    target: path,
    write: (c) => out.write(c),
    commit() {
      out.flush();
      close();
    },
    discard: close,
  };
}

export function stdoutSink(): Sink {
  const out = new BufferedFd(1);
  // Bytes already on stdout cannot be taken back; the exit status tells the reader it is short.
  return { target: "stdout", write: (c) => out.write(c), commit: () => out.flush(), discard: () => {} };
}
