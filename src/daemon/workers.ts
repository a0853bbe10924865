/**
 * `serve --workers N`: N processes share the request port through SO_REUSEPORT; each client
 * address meets one of them (server/io/steer.ts). Each worker is a full server with its own
 * transfers, cache share and timers; nothing is shared but the tftproot, which install-once
 * already guards for several servers.
 *
 * The processes talk over an IPC channel, not signals:
 * - start-up: until every process has bound the port, the kernel sends a client to whichever
 *   process exists, and moves it once the process it belongs to joins; a request retried across
 *   that move would start a second transfer in another process. So each worker reports when it
 *   has bound, and nobody answers requests until the primary has heard from all of them and
 *   says go (a worker that never reports is waited for a bounded time, then logged);
 * - signals: once the primary has dropped root it may not kill(2) a worker still starting as
 *   root (EPERM), so SIGHUP/SIGTERM/SIGINT are forwarded as messages;
 * - metrics: the primary's endpoint asks every worker for its numbers at scrape time, so one
 *   endpoint shows the whole server;
 * - install-once: a worker asks the primary to switch a host, and the primary asks whoever may
 *   change the tree (its boot-control process when started as root), so there is one of those;
 * - a worker whose primary is gone (the channel closed) drains and stops instead of holding
 *   the port alone.
 */
import type { Logger } from "../log.ts";
import type { HostSwitcher } from "../layout/install-once.ts";
import { isWorker, workerEnv } from "./role.ts";

/** The command line that runs this same program again, compiled or from source. */
export function selfCommand(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/");
  return compiled ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, Bun.main, ...process.argv.slice(2)];
}

/** How long the primary waits for every worker to bind before it answers requests anyway. */
export const WORKERS_BOUND_TIMEOUT_MS = 20_000;

const FORWARDED: readonly NodeJS.Signals[] = ["SIGHUP", "SIGTERM", "SIGINT"];

/** Messages between the primary and its workers. */
type Message = { signal: NodeJS.Signals; reload?: number } | { bound: true } | { go: true } | { ask: number };

/** How long the primary waits for every worker to say it re-read, before naming the silent ones. */
export const RELOAD_ACK_TIMEOUT_MS = 5_000;

/** Which workers (by number, 2…N) said they re-read after a SIGHUP, and which did not in time. */
export interface ReloadAcks {
  acked: number[];
  missing: number[];
}

/** How long a scrape waits for the workers' numbers before it answers without the missing ones. */
const ASK_TIMEOUT_MS = 1_000;

export interface WorkerSet {
  /** Resolves once every worker has bound the port (or exited, or the wait timed out). */
  readonly allBound: Promise<void>;
  /** Tells every worker to start answering requests. */
  go(): void;
  /** Every live worker's answer (its metrics), as far as they come within a second. */
  ask(): Promise<unknown[]>;
  /** A second SIGTERM/SIGINT: passed on as it came. */
  signal(signal: NodeJS.Signals): void;
  /** SIGHUP: each worker re-reads what the primary did, and says so once it has. */
  reload(): Promise<ReloadAcks>;
  stop(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts workers 2…N as children with the same arguments. They stop when the primary forwards
 * its SIGTERM/SIGINT; if one dies on its own, the rest go on and the death is logged.
 */
export function spawnWorkers(count: number, log: Logger, port: number, switcher?: HostSwitcher): WorkerSet {
  const children: Bun.Subprocess[] = [];
  let stopping = false;
  let asked = 0;
  let reloads = 0;
  /** Per open reload: the workers still to say they re-read. */
  const reloading = new Map<number, { pending: Set<number>; acked: number[]; done: () => void }>();
  const reloaded = (id: number, worker: number) => {
    const r = reloading.get(id);
    if (!r || !r.pending.delete(worker)) return;
    r.acked.push(worker);
    if (r.pending.size === 0) r.done();
  };
  /** Open questions: the answers so far, and who is still to answer. */
  const questions = new Map<number, { answers: unknown[]; pending: number; done: () => void }>();
  const answer = (m: { answer?: unknown; data?: unknown }) => {
    const q = typeof m.answer === "number" ? questions.get(m.answer) : undefined;
    if (!q) return;
    q.answers.push(m.data);
    if (--q.pending === 0) q.done();
  };
  let waiting = count - 1;
  let allBoundNow = () => {};
  const allBound = new Promise<void>((resolve) => (allBoundNow = resolve));
  const oneBound = () => {
    if (--waiting === 0) allBoundNow();
  };
  for (let i = 2; i <= count; i++) {
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      oneBound();
    };
    const child = Bun.spawn(selfCommand(), {
      // The port the primary bound: the same one even when --port 0 let the kernel pick it.
      env: workerEnv(i, port),
      stdio: ["ignore", "inherit", "inherit"],
      ipc: (m: unknown) => {
        const msg = (m ?? {}) as { bound?: unknown; answer?: unknown; data?: unknown; switch?: unknown; address?: unknown; reloaded?: unknown };
        if (msg.bound === true) report();
        else if (typeof msg.reloaded === "number") reloaded(msg.reloaded, i);
        else if (msg.answer !== undefined) answer(msg);
        else if (typeof msg.switch === "number" && switcher) {
          const id = msg.switch;
          void switcher(String(msg.address)).then((result) => {
            try {
              child.send({ switched: id, result });
            } catch {
              // the worker is gone: nobody waits for the answer
            }
          });
        }
      },
      serialization: "json",
    });
    children.push(child);
    void child.exited.then((code) => {
      report();
      if (!stopping) log.error("worker exited", { worker: i, pid: child.pid, code });
    });
  }
  if (waiting === 0) allBoundNow();
  const timer = setTimeout(() => {
    if (waiting > 0) log.warn("workers still starting: answering requests without them", { waitingFor: waiting, afterMs: WORKERS_BOUND_TIMEOUT_MS });
    allBoundNow();
  }, WORKERS_BOUND_TIMEOUT_MS);
  void allBound.then(() => clearTimeout(timer));
  const send = (m: Message, child: Bun.Subprocess, worker: number) => forward(child, m, worker, log);
  return {
    allBound,
    go() {
      for (const [n, c] of children.entries()) send({ go: true }, c, n + 2);
    },
    ask() {
      const live = children.filter((c) => c.exitCode === null && c.signalCode === null);
      if (live.length === 0) return Promise.resolve([]);
      const id = ++asked;
      return new Promise((resolve) => {
        const q = { answers: [] as unknown[], pending: live.length, done: () => {} };
        const timer = setTimeout(() => q.done(), ASK_TIMEOUT_MS);
        q.done = () => {
          clearTimeout(timer);
          questions.delete(id);
          resolve(q.answers);
        };
        questions.set(id, q);
        for (const c of live) {
          try {
            c.send({ ask: id });
          } catch {
            if (--q.pending === 0) q.done();
          }
        }
      });
    },
    signal(signal) {
      for (const [n, c] of children.entries()) send({ signal }, c, n + 2);
    },
    reload() {
      const id = ++reloads;
      return new Promise<ReloadAcks>((resolve) => {
        const r = { pending: new Set<number>(), acked: [] as number[], done: () => {} };
        const timer = setTimeout(() => r.done(), RELOAD_ACK_TIMEOUT_MS);
        r.done = () => {
          clearTimeout(timer);
          reloading.delete(id);
          resolve({ acked: r.acked.sort((a, b) => a - b), missing: [...r.pending].sort((a, b) => a - b) });
        };
        reloading.set(id, r);
        for (const [n, c] of children.entries()) {
          if (c.exitCode !== null || c.signalCode !== null) continue; // a dead worker has its own error line
          r.pending.add(n + 2);
          send({ signal: "SIGHUP", reload: id }, c, n + 2);
        }
        if (r.pending.size === 0) r.done();
      });
    },
    async stop(signal) {
      stopping = true;
      for (const [n, c] of children.entries()) send({ signal }, c, n + 2);
      await Promise.all(children.map((c) => c.exited));
    },
  };
}

function forward(child: Bun.Subprocess, m: Message, worker: number, log: Logger): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.send(m);
    return;
  } catch {
    // no channel (it closed): a signal can still go as a signal
  }
  if (!("signal" in m)) return;
  try {
    child.kill(m.signal);
  } catch (err) {
    log.warn("worker not signalled", { worker, pid: child.pid, signal: m.signal, error: (err as Error).message });
  }
}

/**
 * In a worker: a signal the primary forwards runs this process's own handler for it; the
 * primary's question (a scrape) gets `answer()`; the primary gone (channel closed) is a SIGTERM.
 * Resolves when the primary says go.
 */
export function followPrimary(answer: () => unknown = () => null): Promise<void> {
  if (!isWorker) return Promise.resolve();
  let goNow = () => {};
  const go = new Promise<void>((resolve) => (goNow = resolve));
  process.on("message", (m: unknown) => {
    const msg = m as { signal?: unknown; go?: unknown; ask?: unknown; switched?: unknown; result?: unknown } | null;
    if (msg?.go === true) goNow();
    if (typeof msg?.switched === "number") {
      switching.get(msg.switched)?.(msg.result as Awaited<ReturnType<HostSwitcher>>);
      switching.delete(msg.switched);
    }
    if (typeof msg?.ask === "number") {
      try {
        process.send?.({ answer: msg.ask, data: answer() });
      } catch {
        // the primary is gone: nobody to answer
      }
    }
    const signal = msg?.signal;
    if (typeof signal === "string" && (FORWARDED as string[]).includes(signal)) process.emit(signal as NodeJS.Signals);
    // The SIGHUP handler re-reads synchronously: once emit returns, this worker serves the new
    // rules, and the primary may say every process has them.
    const reload = (msg as { reload?: unknown } | null)?.reload;
    if (signal === "SIGHUP" && typeof reload === "number") {
      try {
        process.send?.({ reloaded: reload });
      } catch {
        // the primary is gone: nobody waits for it
      }
    }
  });
  process.on("disconnect", () => {
    for (const resolve of switching.values()) resolve({ outcome: "failed", error: "the primary is gone" });
    switching.clear();
    goNow();
    process.emit("SIGTERM");
  });
  // A primary that never says go (it died between our start and its word): go on regardless.
  setTimeout(goNow, WORKERS_BOUND_TIMEOUT_MS + 5_000).unref();
  return go;
}

/** Switch requests of this worker waiting for the primary's answer. */
const switching = new Map<number, (r: Awaited<ReturnType<HostSwitcher>>) => void>();
let switchIds = 0;

/** In a worker: install-once's switcher, through the primary. */
export const primarySwitcher: HostSwitcher = (address) =>
  new Promise((resolve) => {
    const id = ++switchIds;
    switching.set(id, resolve);
    try {
      process.send?.({ switch: id, address });
    } catch {
      switching.delete(id);
      resolve({ outcome: "failed", error: "the primary is gone" });
    }
  });

/** In a worker: tells the primary the port is bound here. */
export function reportBound(): void {
  if (!isWorker) return;
  try {
    process.send?.({ bound: true });
  } catch {
    // no primary to tell: followPrimary's timeout lets us go on
  }
}
