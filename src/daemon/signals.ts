/**
 * The signals a running server takes. Handlers go in before any socket is bound: a SIGTERM that
 * arrives during start-up must still stop the server cleanly rather than kill it mid-way, and
 * `systemctl reload` of a unit written for tftpd-hpa sends SIGHUP, whose default would kill us.
 * A worker gets the same signals from its primary as messages (workers.ts).
 */
import type { Logger } from "../log.ts";

export interface Signals {
  /** The first SIGTERM or SIGINT: stop taking requests and drain (resolves at once if it came during start-up). */
  readonly stop: Promise<NodeJS.Signals>;
  /** SIGHUP from now on runs `reload`; until it is set, SIGHUP is logged and ignored. */
  onReload(reload: () => void): void;
}

/**
 * The first SIGTERM/SIGINT drains (the port is freed at once, running transfers may finish); a
 * second one, from an impatient admin or systemd's stop timeout, runs `cut` to end them now.
 */
export function catchSignals(log: Logger, cut: (signal: NodeJS.Signals) => void): Signals {
  let signalled = false;
  let stopNow: (signal: NodeJS.Signals) => void = () => {};
  const stop = new Promise<NodeJS.Signals>((resolve) => (stopNow = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalled) {
      signalled = true;
      return stopNow(signal);
    }
    cut(signal);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  let reload = () => log.info("SIGHUP received during start-up: ignored");
  process.on("SIGHUP", () => reload());
  return {
    stop,
    onReload(next) {
      reload = next;
    },
  };
}
