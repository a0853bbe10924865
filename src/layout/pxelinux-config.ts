/**
 * What a pxelinux/syslinux config boots, read as pxelinux reads it, as far as a dry run needs:
 * the DEFAULT (or ONTIMEOUT) label's block — KERNEL/LINUX, INITRD (or `initrd=` in APPEND), the
 * APPEND line — or LOCALBOOT. A DEFAULT that names no label is itself a kernel command line.
 * GRUB's and iPXE's configs are read the same way further down.
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

/** What a dry run knows of the settings an iPXE script expands, for one client. */
export interface IpxeSettings {
  /** aa:bb:cc:dd:ee:ff */
  mac?: string;
  /** a.b.c.d */
  ip?: string;
  uuid?: string;
  /** ${platform}: "pcbios" or "efi". */
  platform: string;
  /** ${buildarch}: "i386", "x86_64" or "arm64". */
  buildarch: string;
}

/**
 * Expands an iPXE script's `${name}` and `${name:type}` settings (a `netX/` scope stripped) as
 * iPXE would for this client; a setting the dry run does not know is left as written and named
 * in `unknown`. `${next-server}` stays a host name placeholder (only the path matters here).
 */
export function expandIpxe(text: string, s: IpxeSettings): { text: string; unknown: string[] } {
  const unknown: string[] = [];
  const out = text.replace(/\$\{([^}:]+)(?::([a-z0-9]+))?\}/g, (all, rawName: string, type?: string) => {
    const name = rawName.replace(/^net\d+\//, "");
    let v: string | undefined;
    if (name === "mac" && s.mac) v = type === "hexhyp" ? s.mac.replace(/:/g, "-") : type === "hexraw" ? s.mac.replace(/:/g, "") : s.mac;
    else if (name === "ip") v = s.ip;
    else if (name === "uuid") v = s.uuid;
    else if (name === "platform") v = s.platform;
    else if (name === "buildarch") v = s.buildarch;
    else if (name === "next-server") v = "next-server";
    if (v === undefined) unknown.push(all);
    return v ?? all;
  });
  return { text: out, unknown };
}

/** An iPXE script's commands in order: comments and labels dropped, `||` and `&&` lists split. */
function ipxeCommands(text: string): string[][] {
  return text
    .replace(/\r/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#") && !l.startsWith(":"))
    .flatMap((l) => l.split(/\s*(?:\|\||&&)\s*/))
    .map((c) => c.split(/\s+/).filter(Boolean))
    .filter((c) => c.length > 0);
}

/** A command's operands: its options (`--autofree`, `--name X`, `-n X`, `--timeout=5`) left out. */
function operands(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (out.length === 0 && a.startsWith("-")) {
      if (/^(--name|--timeout|-n|-t)$/.test(a)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/**
 * The scripts an iPXE script tries in turn with `chain` (`chain X || chain Y || …`, as init's
 * boot.ipxe searches the per-host names): its search order, the URIs as written.
 */
export function ipxeChains(text: string): string[] {
  return ipxeCommands(text)
    .filter((c) => c[0] === "chain")
    .map((c) => operands(c.slice(1))[0])
    .filter((u): u is string => u !== undefined);
}

/**
 * What an iPXE script boots, as far as a dry run needs: its `kernel` (or `chain`/`imgexec`) URI
 * and arguments, its `initrd`/`module`/`imgfetch` URIs (as written: relative to the script's own
 * URI), or `sanboot`/`exit` before any kernel (the local disk). With `afterSearch`, `chain` is
 * the script's search (ipxeChains) and what is read is where it goes when none was found.
 */
export function ipxeEntry(text: string, afterSearch = false): PxelinuxEntry {
  const entry: PxelinuxEntry = { localBoot: false, initrds: [] };
  for (const [cmd, ...rest] of ipxeCommands(text)) {
    if (afterSearch && cmd === "chain") continue;
    const args = operands(rest);
    if ((cmd === "kernel" || cmd === "chain" || cmd === "imgexec" || cmd === "imgselect") && !entry.kernel && args[0]) {
      entry.kernel = args[0];
      entry.append = args.slice(1).join(" ") || undefined;
    } else if ((cmd === "initrd" || cmd === "module" || cmd === "imgfetch") && args[0]) entry.initrds.push(args[0]);
    else if ((cmd === "sanboot" || cmd === "exit") && !entry.kernel) entry.localBoot = true;
  }
  return entry;
}
