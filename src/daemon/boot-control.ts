/**
 * Who switches a host to local boot (install-once): started as root, a process of its own
 * (switch-process.ts); otherwise this one, and then the start-up says when it cannot.
 */
import { BOOT_CONTROL_DIRS } from "../files/boot-control.ts";
import type { HostSwitcher } from "../layout/install-once.ts";
import { bootControlOwner, type Identity, type UnwritableDir } from "../layout/writable.ts";
import type { Logger } from "../log.ts";
import { join } from "node:path";
import { CAP_SETGID, CAP_SETPCAP, CAP_SETUID, dropBoundingSet, setNoNewPrivs } from "./lockdown.ts";
import type { ServeSettings } from "./settings.ts";
import { startSwitchProcess } from "./switch-process.ts";

/** The one start-up line when install-once cannot switch hosts: which directories, whose, and the fix. */
export function cannotSwitch(root: string, uid: number, bad: (UnwritableDir & { error: string })[], fix: string): string {
  const dirs = bad.map((b) => `${b.dir}/`).join(", ");
  return `install-once cannot switch hosts: uid ${uid} cannot write ${dirs} (now ${bad[0]!.now}, ${bad[0]!.error}); hosts that fetch the marker will install again; fix: ${fix} (pxeboot doctor ${root} checks it)`;
}

/**
 * Started as root: boot control goes to a process of its own, running as the owner of
 * pxelinux.cfg/ without capabilities (switch-process.ts), and this one keeps no right to it.
 * Its bounding set is ours at the spawn: emptied now but for what it needs to become that owner.
 */
export async function startBootControl(root: string, settings: Pick<ServeSettings, "logFormat" | "logLevel">, log: Logger, user: Identity, hasMarker: boolean): Promise<HostSwitcher> {
  const owner = bootControlOwner(root);
  dropBoundingSet(owner.uid !== 0 ? [CAP_SETUID, CAP_SETGID, CAP_SETPCAP] : []);
  setNoNewPrivs();
  const helper = startSwitchProcess({ root, uid: owner.uid, gid: owner.gid, logFormat: settings.logFormat, logLevel: settings.logLevel }, log);
  const ready = await helper.ready;
  if (!ready) {
    log.error("the boot-control process did not start: hosts that fetch the marker will install again", { fix: "see the error above; pxeboot doctor ROOT" });
    return helper.switcher;
  }
  log.info("boot control: hosts are switched by a separate process, as the owner of the tree's boot entries", { pid: helper.pid, uid: ready.uid, owner: owner.dir });
  const dirs = BOOT_CONTROL_DIRS.map((d) => join(root, d)).join(" ");
  if (ready.problems.length > 0 && hasMarker)
    log.warn(
      cannotSwitch(
        root,
        ready.uid,
        ready.problems,
        `make them writable by the owner of ${owner.dir}/ (chmod u+w), or, on NFS with root_squash, give ${dirs} to a user the NFS server does not squash and that is not ${user.name} (chown -R USER:)`,
      ),
    );
  if (ready.uid === user.uid)
    log.warn(`${owner.dir}/ belongs to ${user.name}, the user serving clients: a fault in client-facing code could change what hosts boot; fix: chown -R root: ${dirs}`);
  return helper.switcher;
}
