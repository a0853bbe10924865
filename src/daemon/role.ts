/**
 * Which process of a server this one is. `pxeboot serve` starts as the primary; with
 * `--workers N` the primary starts workers 2…N (workers.ts), and started as root it starts the
 * boot-control process (switch-process.ts). All of them run this same program: the parent says
 * which role a child has in the child's environment. It is read here, once, as the process
 * starts; everything else asks `role`, and the variables that say it are written only here too.
 */

/** The environment variables a parent gives a child; none of them is an operator's setting. */
const WORKER_ENV = "PXEBOOT_WORKER";
const PORT_ENV = "PXEBOOT_PORT";
const ROLE_ENV = "PXEBOOT_ROLE";
const BOOT_CONTROL_ROLE = "switch";
const BOOT_CONTROL_CONFIG_ENV = "PXEBOOT_SWITCH";

export type Role =
  /** The server as started: binds first, starts the others, serves metrics, HTTP and proxy DHCP. */
  | { kind: "primary" }
  /** Worker `number` (2…N) of a --workers server; `primaryPort`: the request port the primary bound. */
  | { kind: "worker"; number: number; primaryPort?: number }
  /** The boot-control process (switch-process.ts); `config`: what the server gave it, as JSON. */
  | { kind: "boot-control"; config: string };

/** The role an environment gives (exported for the test; the process's own is `role`). */
export function roleOf(env: Record<string, string | undefined>): Role {
  if (env[ROLE_ENV] === BOOT_CONTROL_ROLE) return { kind: "boot-control", config: env[BOOT_CONTROL_CONFIG_ENV] ?? "{}" };
  const worker = env[WORKER_ENV];
  if (worker === undefined) return { kind: "primary" };
  const port = env[PORT_ENV];
  return { kind: "worker", number: Number(worker), primaryPort: port ? Number(port) : undefined };
}

/** This process's role, read once as it starts. */
export const role: Role = roleOf(process.env);

/** A worker of a --workers server (not the primary, not the boot-control process). */
export const isWorker = role.kind === "worker";

/** This worker's number as the log labels it ("2"); undefined in the primary. */
export const workerLabel: string | undefined = role.kind === "worker" ? String(role.number) : undefined;

/** In a worker: the request port its primary bound (undefined in the primary). */
export const primaryPort: number | undefined = role.kind === "worker" ? role.primaryPort : undefined;

/** The environment of worker `number`, started by the primary that bound `port`. */
export function workerEnv(number: number, port: number): Record<string, string | undefined> {
  return { ...process.env, [WORKER_ENV]: String(number), [PORT_ENV]: String(port) };
}

/** The environment of the boot-control process, given `config` (read back as role.config). */
export function bootControlEnv(config: unknown): Record<string, string | undefined> {
  return { ...process.env, [ROLE_ENV]: BOOT_CONTROL_ROLE, [BOOT_CONTROL_CONFIG_ENV]: JSON.stringify(config) };
}
