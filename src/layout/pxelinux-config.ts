/**
 * What a pxelinux/syslinux config boots, read as pxelinux reads it, as far as a dry run needs:
 * the DEFAULT (or ONTIMEOUT) label's block — KERNEL/LINUX, INITRD (or `initrd=` in APPEND), the
 * APPEND line — or LOCALBOOT. A DEFAULT that names no label is itself a kernel command line.
 */

export interface PxelinuxEntry {
  label?: string;
  localBoot: boolean;
  kernel?: string;
  initrds: string[];
  append?: string;
  /** A menu module as the default (menu.c32, vesamenu.c32): the user or its timeout picks. */
  menu?: string;
}

export function pxelinuxEntry(text: string): PxelinuxEntry {
  const lines = text.replace(/\r/g, "").split("\n").map((l) => l.replace(/^\s+/, ""));
  const keyword = (l: string) => /^(\S+)\s*(.*)$/.exec(l);
  let def: string | undefined;
  for (const l of lines) {
    const m = keyword(l);
    if (!m) continue;
    const k = m[1]!.toUpperCase();
    if (k === "ONTIMEOUT" || (k === "DEFAULT" && def === undefined)) def = m[2]!.trim();
  }
  const entry: PxelinuxEntry = { localBoot: false, initrds: [] };
  if (!def) return entry;
  const first = def.split(/\s+/)[0]!;
  if (/\.c32$/i.test(first)) {
    entry.menu = first;
    // The menu's own default: the label marked MENU DEFAULT, else the first.
    const marked = lines.findIndex((l) => /^MENU\s+DEFAULT\b/i.test(l));
    const labels = lines.map((l, i) => ({ l, i })).filter((x) => /^LABEL\s/i.test(x.l));
    const pick = marked >= 0 ? [...labels].reverse().find((x) => x.i < marked) : labels[0];
    if (!pick) return entry;
    def = pick.l.replace(/^LABEL\s+/i, "").trim();
  }
  const start = lines.findIndex((l) => /^LABEL\s/i.test(l) && l.replace(/^LABEL\s+/i, "").trim() === def);
  if (start < 0) {
    // No such label: pxelinux boots DEFAULT's text as "kernel args".
    const [kernel, ...args] = def.split(/\s+/);
    return withInitrd({ ...entry, kernel, append: args.join(" ") || undefined });
  }
  entry.label = def;
  for (let i = start + 1; i < lines.length && !/^LABEL\s/i.test(lines[i]!); i++) {
    const m = keyword(lines[i]!);
    if (!m) continue;
    const k = m[1]!.toUpperCase();
    const v = m[2]!.trim();
    if (k === "LOCALBOOT") entry.localBoot = true;
    else if (k === "KERNEL" || k === "LINUX") entry.kernel = v.split(/\s+/)[0];
    else if (k === "INITRD") entry.initrds.push(...v.split(","));
    else if (k === "APPEND") entry.append = v;
  }
  return withInitrd(entry);
}

function withInitrd(e: PxelinuxEntry): PxelinuxEntry {
  const m = /(?:^|\s)initrd=(\S+)/.exec(e.append ?? "");
  if (m) e.initrds.push(...m[1]!.split(","));
  e.initrds = [...new Set(e.initrds.filter(Boolean))];
  return e;
}

/**
 * What a GRUB config boots, as far as a dry run needs: its first menu entry (pxeboot's GRUB
 * files set timeout=0, so GRUB boots it at once) — `linux`/`linuxefi` with its arguments and
 * `initrd`/`initrdefi` — or `exit` (back to the firmware: the local disk).
 */
export function grubEntry(text: string): PxelinuxEntry {
  const entry: PxelinuxEntry = { localBoot: false, initrds: [] };
  const lines = text.replace(/\r/g, "").split("\n").map((l) => l.trim());
  const start = lines.findIndex((l) => /^menuentry\b/.test(l));
  const body = start < 0 ? lines : lines.slice(start + 1);
  for (const l of body) {
    if (/^}/.test(l)) break;
    const m = /^(\S+)\s*(.*)$/.exec(l);
    if (!m) continue;
    const [, cmd, rest] = m;
    if (cmd === "exit") entry.localBoot = true;
    else if (cmd === "linux" || cmd === "linuxefi") {
      const [k, ...args] = rest!.split(/\s+/);
      entry.kernel = k;
      entry.append = args.join(" ") || undefined;
    } else if (cmd === "initrd" || cmd === "initrdefi") entry.initrds.push(...rest!.split(/\s+/).filter(Boolean));
  }
  if (start >= 0) entry.label = lines[start]!.replace(/^menuentry\s+/, "").replace(/\s*\{$/, "").replace(/^["']|["']$/g, "");
  return entry;
}
