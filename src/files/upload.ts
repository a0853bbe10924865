/**
 * An upload's file. Bytes go to a hidden temporary file beside the target (temp-name.ts), written
 * off the event loop, and become the target only after the last block: flushed, fsync'ed, made
 * readable by everyone (0644: the server serves only such files) and renamed into place. A reader
 * sees the old file or the whole new one, never half of one; an upload that fails, is aborted or
 * times out leaves nothing behind (`close` removes the temporary file).
 *
 * Every file call is relative to the target's directory descriptor (confine-upload.ts): the
 * temporary file is created in the directory that was checked, and linked, renamed or removed
 * there, whatever is renamed meanwhile.
 *
 * It fits transfer/'s ChunkSink as it is: `write` says when the disk is behind (the transfer then
 * holds its ACK, so the client waits instead of memory filling), `end` when the file is stored.
 */
import { close, closeSync, fchmod, fsync, lstatSync, write } from "node:fs";
import { accessViolation, diskFull, fileExists, TftpError, writeError } from "../protocol/errors.ts";
import { linkAt, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, openAt, pathIn, renameAt, unlinkAt } from "./beneath.ts";
import { isOutOfFiles } from "./confine.ts";
import { closeTarget, type UploadTarget } from "./confine-upload.ts";
import { tempName } from "./temp-name.ts";

/** Bytes gathered before one write: blocks arrive a few hundred bytes at a time. */
const BUFFER_BYTES = 256 * 1024;
/** Bytes waiting for the disk at which the transfer is asked to wait. */
const BEHIND_BYTES = 4 * BUFFER_BYTES;

/**
 * Creates the temporary file for `target`; the upload then owns the target's directory
 * descriptor (a failure here leaves it to the caller). Throws a TftpError for the client, or the
 * out-of-descriptors error that the server treats as a shortage.
 */
export async function openUpload(target: UploadTarget, overwrite: boolean): Promise<UploadFile> {
  const temp = tempName(target.name);
  let fd: number;
  try {
    // 0600 until complete: the read side serves only files everyone may read, so never this one.
    fd = openAt(target.dirFd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    if (isOutOfFiles(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS")
      throw accessViolation("Permission denied", `${target.rel}: the server's user cannot write in its directory (${code})`);
    throw asUploadError(err, target.rel);
  }
  return new UploadFile(fd, temp, target, overwrite);
}

type State = "open" | "storing" | "stored" | "closed";

export class UploadFile {
  onReady?: () => void;
  private state: State = "open";
  private current: Uint8Array | undefined;
  private used = 0;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private position = 0;
  /** File operations in flight: the file is closed only once none is (its number could be reused meanwhile). */
  private inFlight = 0;
  private fileClosed = false;
  private dirClosed = false;
  private writing = false;
  private behind = false;
  private failure: TftpError | undefined;
  private whenDrained: (() => void) | undefined;

  constructor(
    /** The temporary file, open for writing. */
    private readonly fd: number,
    /** The temporary file's name in the target's directory (a byte string). */
    readonly temp: string,
    private readonly target: UploadTarget,
    private readonly overwrite: boolean,
  ) {}

  /** Bytes taken so far. */
  get size(): number {
    return this.position + this.queued + this.used;
  }

  write(chunk: Uint8Array): boolean {
    if (this.failure) throw this.failure;
    if (this.state !== "open") throw writeError("write after the end of the upload");
    let off = 0;
    while (off < chunk.length) {
      this.current ??= new Uint8Array(BUFFER_BYTES);
      const n = Math.min(chunk.length - off, this.current.length - this.used);
      this.current.set(chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.current.length) this.enqueue();
    }
    if (this.queued < BEHIND_BYTES) return true;
    this.behind = true;
    return false;
  }

  ready(): boolean {
    if (this.failure) throw this.failure;
    return this.queued < BEHIND_BYTES;
  }

  end(): boolean {
    if (this.failure) throw this.failure;
    if (this.state === "stored") return true;
    if (this.state === "open") {
      this.state = "storing";
      this.enqueue();
      void this.store();
    }
    return false;
  }

  /** The transfer is over: unless the file was stored, it is removed. Safe to call at any time. */
  close(): void {
    if (this.state === "stored" || this.state === "closed") return;
    this.state = "closed";
    this.queue.length = 0;
    this.queued = 0;
    this.whenDrained?.(); // a store waiting for writes goes on, sees the end and stops
    // Unless the file was put in place (which let the directory go), the temporary file is removed
    // from the directory it was made in.
    if (!this.dirClosed) {
      try {
        unlinkAt(this.target.dirFd, this.temp);
      } catch {
        // already gone
      }
      this.closeDir();
    }
    if (this.inFlight === 0) void this.closeFile();
  }

  private enqueue(): void {
    if (!this.current || this.used === 0) return;
    const full = this.current.subarray(0, this.used);
    this.queue.push(full);
    this.queued += full.length;
    this.current = undefined;
    this.used = 0;
    this.pump();
  }

  /** One write at a time, in order, each at its own position. */
  private pump(): void {
    if (this.writing || this.failure || this.state === "closed") return;
    const buf = this.queue[0];
    if (!buf) {
      this.whenDrained?.();
      return;
    }
    this.writing = true;
    void this.op(() => writeFully(this.fd, buf, this.position)).then(
      () => {
        this.writing = false;
        if (this.state === "closed") return;
        this.queue.shift();
        this.queued -= buf.length;
        this.position += buf.length;
        if (this.behind && this.queued < BEHIND_BYTES) {
          this.behind = false;
          this.onReady?.();
        }
        this.pump();
      },
      (err) => {
        this.writing = false;
        this.fail(err);
      },
    );
  }

  /** After the last byte: everything written, fsync'ed, readable by all, then renamed into place. */
  private async store(): Promise<void> {
    try {
      await new Promise<void>((resolve) => {
        this.whenDrained = resolve;
        this.pump();
      });
      if (this.failure || this.abandoned()) return;
      await this.op(() => done((cb) => fchmod(this.fd, 0o644, cb)));
      await this.op(() => done((cb) => fsync(this.fd, cb)));
      await this.closeFile();
      if (this.abandoned()) return;
      this.publish();
      const synced = syncDirectory(this.target.dirFd);
      this.closeDir();
      await synced;
      if (this.abandoned()) return;
      this.state = "stored";
      this.onReady?.();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Without --overwrite a link, not a rename: it fails rather than replace a file that appeared meanwhile. */
  private publish(): void {
    const { dirFd, name } = this.target;
    if (this.overwrite) return renameAt(dirFd, this.temp, name);
    try {
      linkAt(dirFd, this.temp, name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw fileExists(this.target.rel);
      // No hard links on this file system (FAT, some FUSE mounts): check, then rename.
      if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV"].includes(code ?? "")) throw err;
      if (exists(pathIn(dirFd, name))) throw fileExists(this.target.rel);
      return renameAt(dirFd, this.temp, name);
    }
    unlinkAt(dirFd, this.temp);
  }

  /** close() came first (a method, so the checks between awaits are not narrowed away). */
  private abandoned(): boolean {
    return this.state === "closed";
  }

  private fail(err: unknown): void {
    if (this.state === "closed" || this.failure) return;
    this.failure = asUploadError(err, this.target.rel);
    this.onReady?.();
  }

  private async op<T>(run: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await run();
    } finally {
      this.inFlight--;
      if (this.state === "closed" && this.inFlight === 0) void this.closeFile();
    }
  }

  private async closeFile(): Promise<void> {
    if (this.fileClosed) return;
    this.fileClosed = true;
    await done((cb) => close(this.fd, cb));
  }

  /** The directory is used only synchronously (create, link, rename, unlink): closed as soon as it is done with. */
  private closeDir(): void {
    if (this.dirClosed) return;
    this.dirClosed = true;
    closeTarget(this.target);
  }
}

/** A node:fs callback call as a promise (the promise API takes no numeric descriptors). */
function done(call: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
}

async function writeFully(fd: number, buf: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    off += await new Promise<number>((resolve, reject) => write(fd, buf, off, buf.length - off, position + off, (err, n) => (err ? reject(err) : resolve(n))));
  }
}

function exists(path: string | Buffer): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The rename itself survives a crash only once the directory is on disk too; best effort. The
 * directory is opened (for reading, as fsync needs) through the upload's own descriptor, now.
 */
async function syncDirectory(dirFd: number): Promise<void> {
  let fd: number;
  try {
    fd = openAt(dirFd, ".", O_RDONLY | O_DIRECTORY);
  } catch {
    return; // not readable by the server's user: the file itself is on disk
  }
  try {
    await done((cb) => fsync(fd, cb));
  } catch {
    // some file systems refuse fsync on a directory
  } finally {
    closeSync(fd);
  }
}

/** What the client is told when the file can't be written. */
export function asUploadError(err: unknown, rel: string): TftpError {
  if (err instanceof TftpError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG") return diskFull(`${rel}: ${code}`);
  return writeError(`${rel}: ${code ?? String(err)}`);
}
