/** `pxeboot init DIR`: scaffold a tftproot from the embedded layout, then print the DHCP snippets. */
import { defineCommand } from "citty";
import { networkInterfaces } from "node:os";
import { LOADER_ORIGINS, formatInitReport, initLayout, uefiBootFile, type LoaderOrigin } from "../layout/init.ts";
import { parseIPv4 } from "../layout/hexip.ts";
import { UEFI_ARM64_BOOT_FILE, dhcpSnippets } from "../layout/templates.ts";
import { guarded, intArg, repeatedFlag, UsageError } from "./args.ts";
import { parseOwner } from "../daemon/privileges.ts";
import type { Identity } from "../layout/writable.ts";
import { DEFAULT_MARKER } from "../layout/paths.ts";

/**
 * Who install-once writes the tree as. By default whoever runs init keeps it: `serve` started as
 * root switches hosts through a process running as the owner of pxelinux.cfg/, while the user
 * serving clients (tftp) may not write it. `--owner` is for a server started as that user
 * (systemd-unit --as-user), which then changes the tree itself.
 */
function initOwner(flag: string | undefined): Identity | undefined {
  if (flag === undefined || flag === "root" || flag === "0") return undefined;
  return parseOwner(flag, "--owner");
}

/** `--sysroot` only means something for the system's loaders, so it implies them. */
function loaderOrigin(flag: string, rawArgs: string[], sysroot: string | undefined): LoaderOrigin {
  if (!(LOADER_ORIGINS as readonly string[]).includes(flag))
    throw new UsageError(`--loaders must be one of ${LOADER_ORIGINS.join(", ")}, got '${flag}'`);
  const explicit = rawArgs.some((a) => a === "--loaders" || a.startsWith("--loaders="));
  if (sysroot === undefined) return flag as LoaderOrigin;
  if (explicit && flag !== "system") throw new UsageError("--sysroot looks for installed packages: use it with --loaders system (or leave --loaders out)");
  return "system";
}

/** The address DHCP should hand out as next-server: the first non-internal IPv4 here. */
function guessServerAddress(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "TFTP-SERVER-IP";
}

export default guarded(
  "init",
  defineCommand({
    meta: { name: "init", description: "Create a PXE tftproot (pxelinux, GRUB, iPXE) from the built-in layout" },
    args: {
      dir: { type: "positional", description: "Directory to create or complete", required: true },
      profile: { type: "string", alias: "p", description: "Netboot profile to create (repeatable), e.g. 7.2", valueHint: "NAME" },
      "dry-run": { type: "boolean", description: "Print the plan, change nothing" },
      force: { type: "boolean", description: "Overwrite existing files (default: keep them)" },
      server: { type: "string", description: "TFTP server address for the DHCP snippets (default: this host's first IPv4)", valueHint: "ADDR" },
      marker: { type: "string", description: "Name of the install-finished marker file", default: DEFAULT_MARKER },
      loaders: {
        type: "string",
        description: "Where boot loaders come from: builtin (carried by pxeboot, nothing to install) or system (copy the installed packages' files, for your distribution's updates)",
        default: "builtin",
        valueHint: "builtin|system",
      },
      sysroot: { type: "string", description: "With --loaders system: look for the packages under this root (a chroot or image; default /)", valueHint: "DIR" },
      http: {
        type: "string",
        description: "serve --http will run on this port: iPXE loads kernel and initrd over HTTP, DHCP snippets for iPXE and UEFI HTTP Boot use URLs",
        valueHint: "PORT",
      },
      owner: {
        type: "string",
        description: "Give the directories install-once writes in to this user, for a server started as it (default: they stay yours; serve started as root switches hosts as their owner)",
        valueHint: "USER[:GROUP]",
      },
    },
    async run({ args, rawArgs }) {
      const profiles = repeatedFlag(rawArgs, ["profile", "p"], "7.2");
      const server = args.server ?? guessServerAddress();
      if (args.server !== undefined && parseIPv4(args.server) === undefined)
        throw new UsageError(`--server needs an IPv4 address (DHCP next-server), got '${args.server}'`);
      if (!/^[A-Za-z0-9._-]+$/.test(args.marker))
        throw new UsageError(`--marker must be a plain file name like ${DEFAULT_MARKER}, got '${args.marker}'`);
      const httpPort = args.http === undefined ? undefined : intArg("http", args.http, 1, 65535);
      const owner = initOwner(args.owner);
      const loaders = loaderOrigin(args.loaders, rawArgs, args.sysroot);
      const report = await initLayout(args.dir, {
        owner,
        profiles,
        force: !!args.force,
        dryRun: !!args["dry-run"],
        marker: args.marker,
        loaders,
        sysroot: args.sysroot,
        httpPort,
        server,
      });
      process.stdout.write(formatInitReport(report) + "\n\n");
      const uefi = uefiBootFile(report);
      const http = httpPort === undefined ? undefined : `http://${server}:${httpPort}`;
      const ipxe = http ? `${http}/boot.ipxe, UEFI HTTP Boot: ${http}/ipxe.efi` : "boot.ipxe";
      process.stdout.write(`DHCP: point PXE clients at ${server} (BIOS: pxelinux.0, UEFI x64: ${uefi}, UEFI arm64: ${UEFI_ARM64_BOOT_FILE}, iPXE: ${ipxe})\n`);
      if (http) process.stdout.write(`Serve with: pxeboot serve --root ${report.root} --http ${httpPort}\n`);
      process.stdout.write("\n" + dhcpSnippets(server, uefi, httpPort) + "\n");
      if (report.missing.some((m) => m.required)) {
        process.stderr.write("pxeboot: the BIOS boot loader is missing: install the packages named above and re-run pxeboot init\n");
        process.exitCode = 1;
      }
    },
  }),
);
