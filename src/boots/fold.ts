/**
 * Folds a host's events into boots, each with a verdict. Pure: the same events give the same
 * boots on any server of a shared root, and `now` decides only whether silence ended a boot.
 *
 * A new boot starts when the host asks for a first-stage loader after its boot had reached a
 * config, kernel or marker (a reboot: shim → its extras → GRUB, or a PXE ROM's size probe then
 * fetch, stay one boot), or after a quiet gap.
 */
import type { Boot, BootEvent, BootStep, Verdict } from "./types.ts";

/** Silence after which the next request is a new boot, and an unfinished boot is judged. */
export const QUIET_GAP_MS = 5 * 60_000;
/** Firmware fetches its boot file within seconds of the offer it took. */
export const OFFER_FETCH_MS = 60_000;

export interface FoldOptions {
  now: number;
  quietGapMs?: number;
}

const step = (e: BootEvent): BootStep => ({
  at: e.t,
  file: e.f,
  kind: e.k,
  via: e.via,
  outcome: e.o,
  bytes: e.b,
  size: e.s,
  ms: e.d,
  code: e.c,
  retransmits: e.r,
  reason: e.why,
  ...(e.lb ? { localBoot: true } : {}),
});

export function foldBoots(events: readonly BootEvent[], opts: FoldOptions): Boot[] {
  const gap = opts.quietGapMs ?? QUIET_GAP_MS;
  const sorted = [...events].sort((x, y) => x.t - y.t);
  const groups: BootEvent[][] = [];
  let current: BootEvent[] | undefined;
  for (const e of sorted) {
    const last = current?.[current.length - 1];
    // Modules and shim's extras belong to the loader stage; a config, kernel or marker is past it.
    const pastLoaders = current?.some((x) => x.k === "config" || x.k === "kernel" || x.k === "initrd" || x.k === "marker") ?? false;
    // The marker comes at the end of an install, often long after the kernel: it ends that boot.
    const markerOfThisBoot = e.k === "marker" && (current?.some((x) => x.k === "kernel") ?? false);
    // A proxy offer starts a boot as a loader does (the DISCOVER and its 4011 request stay one).
    const startsBoot = (e.k === "loader" || (e.k === "offer" && last?.k !== "offer")) && pastLoaders;
    if (!current || !last || (e.t - last.t > gap && !markerOfThisBoot) || startsBoot) {
      current = [];
      groups.push(current);
    }
    current.push(e);
  }
  return groups.map((g, i) => judge(g, i === groups.length - 1 ? opts.now : Infinity, gap));
}

/** A boot's verdict from its events; `now` Infinity for a boot a later one followed. */
function judge(events: BootEvent[], now: number, gap: number): Boot {
  const steps = events.map(step);
  const first = events[0]!;
  const lastAt = events[events.length - 1]!.t;
  const address = events.find((e) => e.a)?.a ?? "";
  const boot = (verdict: Verdict, detail?: string): Boot => ({ startedAt: first.t, endedAt: lastAt, address, steps, verdict, detail });
  const ok = (k: BootEvent["k"]) => events.some((e) => e.k === k && e.o === "ok");
  if (ok("marker")) return boot("installed");
  const kernelOk = ok("kernel");
  const initrdAsked = events.some((e) => e.k === "initrd");
  if (kernelOk && (ok("initrd") || !initrdAsked)) {
    // A kernel without an initrd may still be followed by one: wait for the quiet gap.
    if (initrdAsked || now - lastAt > gap) return boot("booted");
  }
  const quiet = now - lastAt > gap;
  // Offered a boot file by the proxy and never asked for it: the firmware took another offer,
  // or could not reach this server (a firewall, the wrong interface).
  if (events.every((e) => e.k === "offer") && (quiet || now - lastAt > OFFER_FETCH_MS)) return boot("offered-not-fetched", `file=${events[events.length - 1]!.f}`);
  // The config served last sends the host to its disk, and nothing was asked after it: done.
  const lastConfig = [...events].reverse().find((e) => e.k === "config" && e.o === "ok");
  if (lastConfig?.lb && !events.some((e) => e.t > lastConfig.t && (e.k === "kernel" || e.k === "initrd" || e.o !== "ok"))) return boot("local-boot", `config=${lastConfig.f}`);
  // The last failure that matters: one whose file was never delivered later in the boot.
  const failed = [...events].reverse().find((e) => e.o !== "ok" && e.o !== "probe" && e.k !== "config" && e.k !== "other" && !events.some((x) => x.f === e.f && x.o === "ok" && x.t >= e.t));
  if (failed && (quiet || failed === events[events.length - 1])) {
    // The block a TFTP transfer stopped at: the one after the last the client acknowledged.
    const at = failed.bs && failed.b > 0 ? ` block=${Math.floor(failed.b / failed.bs) + 1}` : failed.bs && failed.o === "timeout" ? " block=1" : "";
    if (failed.o === "timeout") return boot("transfer-timeout", `file=${failed.f}${at}`);
    if (failed.via === "http" && failed.c === 404) return boot("http-404", `file=${failed.f}`);
    if (failed.via === "tftp" && failed.c === 1) return boot("file-missing", `file=${failed.f}`);
    if (failed.k === "loader" && !events.some((e) => e.t > failed.t && e.k !== "loader")) return boot("loader-failed", `file=${failed.f}`);
    return boot("transfer-failed", `file=${failed.f}${at}${failed.why ? ` (${failed.why})` : ""}`);
  }
  if (!quiet) return boot("in-progress");
  const configs = events.filter((e) => e.k === "config");
  if (configs.length > 0 && !configs.some((e) => e.o === "ok")) return boot("config-missing", `tried=${configs.length} last=${configs[configs.length - 1]!.f}`);
  if (!events.some((e) => e.k !== "loader" && e.k !== "other" && e.k !== "offer")) return boot("loader-failed", `file=${first.f} (delivered, nothing asked after it)`);
  const servedConfig = [...configs].reverse().find((e) => e.o === "ok");
  if (servedConfig && !events.some((e) => e.k === "kernel" || e.k === "initrd")) return boot("local-boot", `config=${servedConfig.f}`);
  const lastFile = events[events.length - 1]!;
  return boot("transfer-failed", `stopped after ${lastFile.f}`);
}
