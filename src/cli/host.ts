/** `pxeboot host add|remove|list|which`: per-host boot control in a tftproot. */
import { defineCommand } from "citty";
import { statSync } from "node:fs";
import { formatIPv4, parseClientName, parseIPv4, parseMac, parseUuid } from "../layout/hexip.ts";
import { addHosts, listHosts, removeHosts, whichHost } from "../layout/hosts.ts";
import { bindMac, unbindMac } from "../layout/macs.ts";
import { parseHostSpec, type HostSpec } from "../layout/hostspec.ts";
import { requireProfile } from "../layout/profiles.ts";
import { guarded, UsageError } from "./args.ts";
import { hostLog } from "./host-log.ts";
import { CHAIN_ARCHES, bootChain, type ChainArch } from "../layout/boot-chain.ts";
import { defaultServiceUser, lookupUser } from "../daemon/privileges.ts";

/** The uid a server started as root would serve as; undefined when this host has neither default user. */
function safeDefaultUid(): number | undefined {
  try {
    return defaultServiceUser().uid;
  } catch {
    return undefined;
  }
}
import { hostBoots, keysOf } from "../boots/host-boots.ts";
import { DEFAULT_ROOT } from "../config/schema.ts";

const rootArg = { type: "string", description: "The tftproot", default: DEFAULT_ROOT, valueHint: "DIR" } as const;

function requireRoot(root: string): string {
  let ok = false;
  try {
    ok = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!ok) throw new UsageError(`--root ${root} is not a directory: create it with pxeboot init ${root}, or pass --root DIR`);
  return root;
}

function describeSpec(spec: HostSpec): string {
  if (spec.kind === "mac") return spec.mac;
  const ips = spec.ips;
  return ips.length === 1 ? formatIPv4(ips[0]!) : `${ips.length} hosts ${formatIPv4(ips[0]!)}-${formatIPv4(ips[ips.length - 1]!)}`;
}

const add = guarded(
  "host add",
  defineCommand({
    meta: { name: "add", description: "Make HOST netboot PROFILE (IPv4, CIDR, range or MAC)" },
    args: {
      host: { type: "positional", description: "192.168.0.11 (or C0A8000B), 192.168.0.0/24, 192.168.0.10-20 or aa:bb:cc:dd:ee:ff (or 01-aa-bb-…)", required: true },
      profile: { type: "positional", description: "Profile name (7.2) or its file (default.netboot-7.2)", required: true },
      ip: {
        type: "string",
        description: "With a MAC: the IPv4 it fetches the install marker from, for a host not on this segment (routed through a DHCP relay)",
        valueHint: "IP",
      },
      root: rootArg,
    },
    async run({ args }) {
      const root = requireRoot(args.root);
      const spec = parseHostSpec(args.host);
      const bindIp = args.ip === undefined ? undefined : parseIPv4(args.ip);
      if (args.ip !== undefined && bindIp === undefined) throw new UsageError(`--ip '${args.ip}' is not an IPv4 address: use e.g. 192.168.0.11`);
      if (bindIp !== undefined && spec.kind !== "mac")
        throw new UsageError(`--ip binds a MAC to an address: give HOST as a MAC (aa:bb:cc:dd:ee:ff), or leave --ip out`);
      const profile = requireProfile(root, args.profile);
      const result = addHosts(root, spec, profile);
      if (bindIp !== undefined && spec.kind === "mac") {
        const file = bindMac(root, formatIPv4(bindIp), spec.mac);
        process.stdout.write(`${file}: the install marker fetched from ${formatIPv4(bindIp)} ends ${spec.mac}'s install\n`);
      }
      const pxelinux = result.links.filter((l) => l.startsWith("pxelinux.cfg/"));
      if (pxelinux.length <= 16) for (const l of pxelinux) process.stdout.write(`${l} -> default.netboot-${profile}\n`);
      process.stdout.write(`${describeSpec(spec)}: netboot profile ${profile} (${result.links.length} links)\n`);
      const moved = result.switched;
      if (moved.length > 0 && moved.length <= 16)
        for (const m of moved) process.stdout.write(`note: ${m.host} was set to profile ${m.from}, now ${profile}\n`);
      else if (moved.length > 16) process.stdout.write(`note: ${moved.length} of these hosts were set to another profile (${[...new Set(moved.map((m) => m.from))].join(", ")}), now ${profile}\n`);
      for (const s of result.skipped) process.stdout.write(`note: ${s} does not exist, so that loader's per-host entry was skipped\n`);
    },
  }),
);

const remove = guarded(
  "host remove",
  defineCommand({
    meta: { name: "remove", description: "Remove HOST's per-host entries (it boots the default again)" },
    args: {
      host: { type: "positional", description: "IPv4, CIDR, range or MAC", required: true },
      root: rootArg,
    },
    async run({ args }) {
      const root = requireRoot(args.root);
      const spec = parseHostSpec(args.host);
      const removed = removeHosts(root, spec);
      if (spec.kind === "mac") removed.push(...unbindMac(root, spec.mac));
      if (removed.length <= 48) for (const r of removed) process.stdout.write(`removed ${r}\n`);
      process.stdout.write(`${describeSpec(spec)}: ${removed.length ? `${removed.length} entries removed` : "had no entries"}\n`);
    },
  }),
);

/** The verdict of a host's last recorded boot and when it ended, for `host list`. */
function lastBootText(root: string, host: string, now: number): string {
  const client = parseClientName(host);
  if (!client) return "-";
  const keys = keysOf(root, "mac" in client ? { mac: client.mac } : { address: formatIPv4(client.ip) });
  const boots = hostBoots(root, keys, now);
  const boot = boots[boots.length - 1];
  return boot ? `${boot.verdict} ${new Date(boot.endedAt).toISOString().slice(0, 16).replace("T", " ")}Z` : "-";
}

const list = guarded(
  "host list",
  defineCommand({
    meta: { name: "list", description: "List hosts with a netboot entry (pending) or an install record (installed)" },
    args: { root: rootArg },
    async run({ args }) {
      const root = requireRoot(args.root);
      const now = Date.now();
      const rows = listHosts(root).map((h) => [
        h.host,
        h.file,
        h.profile,
        h.state === "installed" ? `installed ${h.installedAt ?? ""}`.trim() : "pending",
        lastBootText(root, h.host, now),
      ]);
      if (rows.length === 0) {
        process.stdout.write(`no hosts in ${root}: add one with pxeboot host add HOST PROFILE --root ${root}\n`);
        return;
      }
      const table = [["HOST", "FILE", "PROFILE", "STATE", "LAST BOOT"], ...rows];
      const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
      process.stdout.write(table.map((r) => r.map((v, c) => (c < 4 ? v.padEnd(widths[c]!) : v)).join("  ") + "\n").join(""));
    },
  }),
);

const which = guarded(
  "host which",
  defineCommand({
    meta: { name: "which", description: "Dry run of HOST's boot: the DHCP answers, the loader, the config its own search picks (pxelinux, GRUB or iPXE), the kernel and initrds it names, each checked" },
    args: {
      host: { type: "positional", description: "The client's IPv4 address or MAC", required: true },
      arch: {
        type: "string",
        description: "The client's firmware: bios (pxelinux.0), efi64 (shim → GRUB, else syslinux.efi), arm64 (shim → GRUB), http (UEFI HTTP Boot x64: ipxe.efi → boot.ipxe) or http-arm64 (shimaa64.efi over HTTP)",
        default: "bios",
        valueHint: CHAIN_ARCHES.join("|"),
      },
      ipxe: { type: "boolean", description: "The client is iPXE already (a flashed ROM, user class iPXE): DHCP gives it boot.ipxe, whose chain lines pick the host's script" },
      user: { type: "string", description: "The user the server serves as (readability is checked for it); default as serve started as root picks", valueHint: "USER" },
      mac: { type: "string", description: "The client's MAC too (pxelinux tries 01-MAC first)", valueHint: "MAC" },
      ip: { type: "string", description: "The client's IPv4 too, when HOST is a MAC", valueHint: "IP" },
      uuid: { type: "string", description: "The client's SMBIOS UUID (tried before the MAC)", valueHint: "UUID" },
      root: rootArg,
    },
    async run({ args }) {
      const root = requireRoot(args.root);
      const client = parseClientName(args.host);
      if (!client)
        throw new UsageError(
          `'${args.host}' is not a client address: give one IPv4 address (192.168.0.11 or C0A8000B) or a MAC (aa:bb:cc:dd:ee:ff or 01-aa-bb-cc-dd-ee-ff)`,
        );
      const hostMac = "mac" in client ? client.mac : undefined;
      const hostIp = "ip" in client ? client.ip : undefined;
      const mac = args.mac !== undefined ? parseMac(args.mac) : hostMac;
      if (args.mac !== undefined && !mac) throw new UsageError(`--mac '${args.mac}' is not a MAC: use aa:bb:cc:dd:ee:ff`);
      const ip = args.ip !== undefined ? parseIPv4(args.ip) : hostIp;
      if (args.ip !== undefined && ip === undefined) throw new UsageError(`--ip '${args.ip}' is not an IPv4 address: use e.g. 192.168.0.11`);
      const uuid = args.uuid !== undefined ? parseUuid(args.uuid) : undefined;
      if (args.uuid !== undefined && !uuid)
        throw new UsageError(`--uuid '${args.uuid}' is not a UUID: use the 8-4-4-4-12 hex form`);
      if (!(CHAIN_ARCHES as readonly string[]).includes(args.arch)) throw new UsageError(`--arch must be one of ${CHAIN_ARCHES.join(", ")}, got '${args.arch}'`);
      const servingUid = args.user !== undefined ? lookupUser(args.user).uid : process.getuid?.() === 0 ? safeDefaultUid() : process.getuid?.();
      const chain = bootChain(root, { ip, mac, uuid }, args.arch as ChainArch, servingUid, { ipxe: args.ipxe === true });
      const steps = chain.search;
      const width = Math.max(...steps.map((s) => s.path.length));
      const lines: string[] = chain.dhcp.map((d) => `DHCP to ${d.asker}: the answer must name ${d.bootFile}; ${d.needs}`);
      steps.forEach((s, i) => {
        const state = s.exists
          ? `found${s.linkTarget ? ` -> ${s.linkTarget}` : ""}${s.resolved && s.resolved !== s.path ? ` (${s.resolved})` : ""}`
          : s.linkTarget
            ? `broken link -> ${s.linkTarget} ${s.resolved ?? ""}`.trim()
            : "-";
        const mark = s.chosen ? "   <== boots this" : "";
        lines.push(`${String(i + 1).padStart(2)}. ${s.path.padEnd(width)}  ${s.why.padEnd(22)} ${state}${mark}`);
      });
      const chosen = steps.find((s) => s.chosen);
      if (chosen) lines.push(`boots ${chosen.resolved}`, `which ${chain.outcome}`);
      else lines.push(steps.some((s) => s.path.endsWith("/default")) ? `no config found: pxelinux will fail; run pxeboot init ${root}` : chain.outcome);
      lines.push("files the boot fetches, in order:");
      const fw = Math.max(...chain.files.map((f) => f.path.length));
      const vw = Math.max(...chain.files.map((f) => f.via.length));
      for (const f of chain.files) {
        const state = !f.present ? "MISSING" : !f.readable ? "present, NOT readable by the serving user" : `ok (${f.size} B)`;
        lines.push(`  ${f.role.padEnd(7)} ${f.path.padEnd(fw)}  ${f.via.padEnd(vw)}  ${state}`);
      }
      if (chain.append) lines.push(`  append  ${chain.append}`);
      // One write: a reader that stops early (| head) must not break a half-written listing.
      process.stdout.write(lines.join("\n") + "\n");
    },
  }),
);

export default defineCommand({
  // The name nested usage lines start with ("pxeboot host add"), not the key main.ts lists it under.
  meta: { name: "host", description: "Choose which hosts netboot which profile, and see where their boots got to" },
  subCommands: { add, remove, list, which, log: hostLog },
});
