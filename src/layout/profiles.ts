/**
 * Profiles are what a host can be told to netboot: one `pxelinux.cfg/default.netboot-<name>` each
 * (plus its GRUB and iPXE mirrors). The file system is the registry; nothing else records them.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../usage-error.ts";
import { NETBOOT_PREFIX, PXELINUX_DIR } from "./paths.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** Profile names become file names in three loaders' syntax: keep them plain. */
export function validateProfileName(name: string): string {
  if (!NAME.test(name) || name.endsWith(".cfg") || name.endsWith(".ipxe"))
    throw new UsageError(
      `profile '${name}' is not a usable name: use letters, digits, '.', '_', '+' or '-' (up to 64, e.g. 7.2 or rhel9)`,
    );
  return name;
}

/** `7.2` and `default.netboot-7.2` both name profile 7.2. */
export function profileArg(text: string): string {
  const name = text.startsWith(NETBOOT_PREFIX) ? text.slice(NETBOOT_PREFIX.length) : text;
  return validateProfileName(name);
}

/** Profiles present in a tree, sorted; empty when the tree has none (or no pxelinux.cfg). */
export function listProfiles(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(root, PXELINUX_DIR));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(NETBOOT_PREFIX) && n.length > NETBOOT_PREFIX.length)
    .map((n) => n.slice(NETBOOT_PREFIX.length))
    .filter((n) => NAME.test(n))
    .sort();
}

/** Resolves a PROFILE argument against the tree, or explains which profiles exist. */
export function requireProfile(root: string, text: string): string {
  const name = profileArg(text);
  const known = listProfiles(root);
  if (known.includes(name)) return name;
  const list = known.length ? `known profiles: ${known.join(", ")}` : "this tree has no profiles yet";
  throw new UsageError(
    `unknown profile '${name}' in ${join(root, PXELINUX_DIR)} (${list}); create it with: pxeboot init ${root} --profile ${name}`,
  );
}
