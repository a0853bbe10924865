/**
 * Privilege separation for install-once, as OpenSSH and Postfix do it: a server started as root
 * serves clients as an unprivileged user that cannot write boot control, and a small process
 * of its own keeps that right. It holds no socket a client can reach, only the IPC channel to
 * the server, and does one thing on request: switch the host at an address to local boot
 * (layout/switch-host.ts), computing the names from the address itself, never a path.
 *
 * It runs as the owner of pxelinux.cfg/ (root on a tree tftpd-hpa served, whatever user a tree
 * was given to), without capabilities: the server empties the bounding set it is spawned with
 * (keeping only what it needs to become that owner) and sets no-new-privs first. So a root-owned
 * tree works with no flag, and the helper can write nothing its owner could not.
 *
 * It lives as long as the server: SIGTERM and SIGINT (a terminal's Ctrl-C reaches the whole
 * group) are the server's to act on, and a draining transfer may still fetch the marker; the
 * helper stops when the channel closes.
 */
import { createLogger, type LogFormat, type LogLevel, type Logger } from "../log.ts";
import { probeInstallDirs, type UnwritableDir } from "../layout/writable.ts";
import { switchHost, type SwitchResult } from "../layout/switch-host.ts";
import type { HostSwitcher } from "../layout/install-once.ts";
import { dropBoundingSet, setNoNewPrivs } from "./lockdown.ts";
import { bootControlEnv } from "./role.ts";
import { selfCommand } from "./workers.ts";

/** How long the server waits for the helper to say it is ready before serving without it. */
const READY_TIMEOUT_MS = 15_000;

interface Config {
  root: string;
  uid: number;
  gid: number;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  neighbourTable?: string;
}

/** What the helper says once it runs as its owner: the directories it found it cannot write. */
export interface SwitchReady {
  uid: number;
  problems: (UnwritableDir & { error: string })[];
}

type Request = { id: number; address: string };
type Reply = { id: number; result: SwitchResult } | { ready: SwitchReady };

export interface SwitchProcess {
  switcher: HostSwitcher;
  /** undefined: it never said ready (it failed to start; its own stderr says why). */
  ready: Promise<SwitchReady | undefined>;
  pid: number;
}

/** In the server, still root: starts the helper as `owner`. */
export function startSwitchProcess(config: Config, log: Logger): SwitchProcess {
  const pending = new Map<number, (r: SwitchResult) => void>();
  let next = 0;
  let readyNow: (r: SwitchReady | undefined) => void = () => {};
  const ready = new Promise<SwitchReady | undefined>((resolve) => (readyNow = resolve));
  const child = Bun.spawn(selfCommand(), {
    env: bootControlEnv(config),
    stdio: ["ignore", "inherit", "inherit"],
    serialization: "json",
    ipc: (m: unknown) => {
      const msg = m as Reply;
      if ("ready" in msg) return readyNow(msg.ready);
      pending.get(msg.id)?.(msg.result);
      pending.delete(msg.id);
    },
  });
  const timer = setTimeout(() => readyNow(undefined), READY_TIMEOUT_MS);
  void ready.then(() => clearTimeout(timer));
  let exited = false;
  void child.exited.then((code) => {
    exited = true;
    readyNow(undefined);
    log.error("the boot-control process exited: install-once cannot switch hosts until a restart", { pid: child.pid, code });
    for (const resolve of pending.values()) resolve({ outcome: "failed", error: "the boot-control process exited" });
    pending.clear();
  });
  const switcher: HostSwitcher = (address) =>
    new Promise((resolve) => {
      if (exited) return resolve({ outcome: "failed", error: "the boot-control process exited" });
      const id = ++next;
      pending.set(id, resolve);
      try {
        child.send({ id, address } satisfies Request);
      } catch (err) {
        pending.delete(id);
        resolve({ outcome: "failed", error: `the boot-control process is unreachable: ${(err as Error).message}` });
      }
    });
  return { switcher, ready, pid: child.pid };
}

/**
 * In the helper: become the owner, give up the rest, say ready, then switch hosts on request.
 * `given`: the configuration the server passed (role.ts), as JSON; main.ts runs this before
 * loading any command (the role needs no CLI).
 */
export function runSwitchProcess(given: string): void {
  const config = JSON.parse(given) as Config;
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(s, () => {});
  if (process.getuid?.() === 0 && config.uid !== 0) {
    // The server left CAP_SETUID, CAP_SETGID and CAP_SETPCAP in our bounding set for this.
    dropBoundingSet();
    process.setgroups?.([]);
    process.setgid?.(config.gid);
    process.setuid?.(config.uid);
  }
  setNoNewPrivs();
  const send = (m: Reply) => {
    try {
      process.send?.(m);
    } catch {
      // the server is gone: the disconnect handler ends us
    }
  };
  process.on("disconnect", () => process.exit(0));
  process.on("message", (m: unknown) => {
    const req = m as Partial<Request> | null;
    if (typeof req?.id !== "number") return;
    const id = req.id;
    void switchHost({ root: config.root, log, neighbourTable: config.neighbourTable }, String(req.address)).then((result) => send({ id, result }));
  });
  send({ ready: { uid: process.getuid?.() ?? -1, problems: probeInstallDirs(config.root) } });
}
