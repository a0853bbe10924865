/**
 * The typed settings (config/validate.ts) as the server's ServerConfig, built once, so nothing
 * downstream re-parses strings; what needs the host (the quirks and map files) is read here, an
 * error naming where its setting was given. The serve flag table is the rows' (config/schema.ts).
 */
import type { ArgsDef } from "citty";
import { readQuirksFile } from "./quirks-file.ts";
import { uploadConfig } from "./upload-config.ts";
import { compatConfig, familyDeny, listenAddresses } from "./compat-config.ts";
import type { ServerConfig } from "../server/types.ts";
import { MAX_BLOCK_SIZE } from "../protocol/types.ts";
import { cittyArgs, ROWS, type Name } from "../config/schema.ts";
import { at, type Validated } from "../config/validate.ts";

/** `pxeboot serve`'s flags for citty (--help, unknown flags): the rows, and DIR. */
export const serveArgs: ArgsDef = cittyArgs();

/**
 * The setting each field of ServerConfig comes from, as a user writes it (flag and TOML key), so
 * a reload says `changed=blksize-max`, not the field's name. Typed over every field: a new field
 * without a name here does not compile.
 */
export const SETTING_OF: Record<keyof ServerConfig, string> = {
  root: "root",
  // --ipv4/--ipv6 choose the addresses too when none is given: a change of either waits with them.
  addresses: "address/ipv4/ipv6",
  port: "port",
  maxTransfers: "max-transfers",
  queueMax: "queue-max",
  timeoutMs: "timeout",
  timeoutMaxMs: "timeout",
  rtoMinMs: "timeout",
  retries: "retries",
  blockSizeMax: "blksize-max",
  blockSizeMaxExplicit: "blksize-max",
  windowSizeMax: "windowsize-max",
  rollover: "rollover",
  quirkMemorySec: "quirk-memory",
  quirks: "quirks",
  cacheBytes: "cache-mb",
  receiveBufferBytes: "rcvbuf-mb",
  perClientMax: "per-client-max",
  perClientRate: "per-client-rate",
  allow: "allow",
  deny: "deny",
  permissive: "permissive",
  create: "create",
  writable: "writable",
  overwrite: "overwrite",
  uploadMaxBytes: "upload-max-mb",
  reusePort: "workers",
  portRange: "port-range",
  processes: "workers",
  remap: "remap/map-file",
  stripPrefix: "strip-prefix",
  refuse: "refuse",
};

/** Field names as settings, each once, in the order given. */
export const settingNames = (fields: string[]): string[] => [...new Set(fields.map((f) => SETTING_OF[f as keyof ServerConfig] ?? f))];

/**
 * The ServerConfig fields a running server is built around: a change waits for a restart. From
 * the rows: a field waits when a row it comes from does (addresses: --address).
 */
export const RESTART_FIELDS: ReadonlySet<keyof ServerConfig> = new Set(
  (Object.keys(SETTING_OF) as (keyof ServerConfig)[]).filter((f) => SETTING_OF[f].split("/").some((n) => ROWS[n as Name]?.applies === "restart")),
);

export function serveConfig(v: Validated): ServerConfig {
  const { values } = v;
  const timeoutMs = Math.round(values.timeout * 1000);
  return {
    root: values.root,
    addresses: listenAddresses(values),
    port: values.port,
    maxTransfers: values["max-transfers"],
    perClientMax: values["per-client-max"],
    perClientRate: values["per-client-rate"],
    queueMax: values["queue-max"],
    timeoutMs,
    timeoutMaxMs: Math.max(5000, timeoutMs),
    // Linux TCP's RTO_MIN: a PXE ROM or a loaded host can take tens of ms to answer a block, and
    // a floor of 20 ms resent to them (atftp's 200-client test: 3-21 needless resends a run at
    // 20 ms, none at 200); a 2 % loss storm still ends in 0.18× tftpd-hpa's time (RESULTS.md).
    rtoMinMs: 200,
    retries: values.retries,
    blockSizeMax: values["blksize-max"] ?? MAX_BLOCK_SIZE,
    blockSizeMaxExplicit: values["blksize-max"] !== undefined,
    windowSizeMax: values["windowsize-max"],
    quirks: values.quirks === undefined ? undefined : at(v, "quirks", () => readQuirksFile(values.quirks!)),
    quirkMemorySec: values["quirk-memory"],
    rollover: values.rollover,
    cacheBytes: values["cache-mb"] * 1024 * 1024,
    receiveBufferBytes: values["rcvbuf-mb"] * 1024 * 1024,
    reusePort: values.workers > 1,
    processes: values.workers,
    permissive: values.permissive,
    allow: values.allow,
    deny: [...values.deny, ...familyDeny(values)],
    ...compatConfig(v),
    ...uploadConfig(values),
  };
}
