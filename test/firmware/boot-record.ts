/**
 * What pxeboot's boot records say about the lab's guest: read the way `pxeboot host log` reads
 * them, by the guest's MAC (the server's neighbour table knows it) and its address.
 */
import { hostBoots } from "../../src/boots/host-boots.ts";
import type { Boot } from "../../src/boots/types.ts";
import { CLIENT_IP, CLIENT_MAC, type Lab } from "./harness.ts";
import { pxebootBinary } from "./tools.ts";

/** The guest's boots once `until` holds of them (records are written in batches), or what there is after 5 s. */
export async function recordedBoots(lab: Lab, until: (boots: Boot[]) => boolean): Promise<Boot[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const boots = hostBoots(lab.opts.root, [CLIENT_MAC, CLIENT_IP], Date.now());
    if (until(boots) || Date.now() > deadline) return boots;
    await Bun.sleep(200);
  }
}

/** The files the record says a boot got, in order (what the server log's "ok" lines must be too). */
export const deliveredFiles = (boot: Boot) => boot.steps.filter((s) => s.outcome === "ok").map((s) => s.file);

/** `pxeboot host which` for the lab's guest (with `flags`): its "files the boot fetches" lines, trimmed. */
export function dryRunFiles(lab: Lab, flags: string[]): string[] {
  const out = Bun.spawnSync([pxebootBinary(), "host", "which", CLIENT_IP, ...flags, "--root", lab.opts.root]).stdout.toString();
  return (out.split("files the boot fetches, in order:\n")[1] ?? "").split("\n").filter((l) => /^  (loader|module|config|kernel|initrd) /.test(l)).map((l) => l.trim());
}

/** The paths of dryRunFiles' lines, to compare with deliveredFiles. */
export const dryRunPaths = (lines: string[]) => lines.map((l) => l.split(/\s+/)[1]!);
