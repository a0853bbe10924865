/**
 * `serve --workers N`: N processes share the request port through SO_REUSEPORT, and the kernel
 * spreads clients across them by address hash (a client's retried RRQs land on the same worker).
 * Each worker is a full server with its own transfers, cache and timers; nothing is shared but
 * the tftproot, which install-once already guards for several servers.
 */
import type { Logger } from "../log.ts";

/** The command line that runs this same program again, compiled or from source. */
function selfCommand(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/");
  return compiled ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, Bun.main, ...process.argv.slice(2)];
}

export const isWorkerChild = () => process.env.PXEBOOT_WORKER !== undefined;

/**
 * Starts workers 2…N as children with the same arguments. They stop when the primary forwards
 * its SIGTERM/SIGINT; if one dies on its own, the rest go on and the death is logged.
 */
export function spawnWorkers(count: number, log: Logger): { stop(signal: NodeJS.Signals): Promise<void>; signal(signal: NodeJS.Signals): void } {
  const children: Bun.Subprocess[] = [];
  let stopping = false;
  for (let i = 2; i <= count; i++) {
    const child = Bun.spawn(selfCommand(), {
      env: { ...process.env, PXEBOOT_WORKER: String(i) },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
    void child.exited.then((code) => {
      if (!stopping) log.error("worker exited", { worker: i, pid: child.pid, code });
    });
  }
  return {
    /** SIGHUP: each worker re-reads what the primary did. */
    signal(signal) {
      for (const c of children) c.kill(signal);
    },
    async stop(signal) {
      stopping = true;
      for (const c of children) c.kill(signal);
      await Promise.all(children.map((c) => c.exited));
    },
  };
}
