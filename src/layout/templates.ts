/**
 * The default layout's text, embedded in the executable (Bun inlines `type: "text"` imports under
 * `bun build --compile`), so `pxeboot init` needs no files next to the binary.
 */
import { BOOT_FILES } from "./boot-files.ts";
import bootIpxe from "./templates/boot.ipxe.txt" with { type: "text" };
import dhcpDnsmasq from "./templates/dhcp-dnsmasq.txt" with { type: "text" };
import dhcpIsc from "./templates/dhcp-isc.txt" with { type: "text" };
import dhcpKea from "./templates/dhcp-kea.txt" with { type: "text" };
import dhcpDnsmasqHttp from "./templates/dhcp-dnsmasq-http.txt" with { type: "text" };
import dhcpIscHttp from "./templates/dhcp-isc-http.txt" with { type: "text" };
import dhcpKeaHttp from "./templates/dhcp-kea-http.txt" with { type: "text" };
import grubNetboot from "./templates/grub-netboot.txt" with { type: "text" };
import grubCfg from "./templates/grub.cfg.txt" with { type: "text" };
import ipxeNetboot from "./templates/ipxe-netboot.txt" with { type: "text" };
import pxelinuxDefault from "./templates/pxelinux-default.txt" with { type: "text" };
import pxelinuxNetboot from "./templates/pxelinux-netboot.txt" with { type: "text" };
import marker from "./templates/marker.txt" with { type: "text" };
import readme from "./templates/README.txt" with { type: "text" };

export interface TemplateVars {
  name?: string;
  marker?: string;
  /** The installer's last command: markerFetchCommand's line. */
  fetch?: string;
  root?: string;
  server?: string;
  uefi?: string;
  /** The boot file DHCP gives UEFI arm64 clients (option 93 = 11). */
  uefiArm64?: string;
  /** `serve --http` port, for URLs. */
  port?: string;
  /** Where an iPXE profile loads kernel and initrd from: "" (relative to the script: TFTP) or an http:// base. */
  base?: string;
  /** A comment saying which protocol the iPXE profile uses ("" when TFTP). */
  via?: string;
  /** Flags `serve` needs beyond the root (" --http PORT"). */
  serveFlags?: string;
}

/** Replaces {{var}}; an unknown or missing variable is a bug in the caller, so it throws. */
export function render(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = (vars as Record<string, string | undefined>)[key];
    if (value === undefined) throw new Error(`template variable {{${key}}} has no value`);
    return value;
  });
}

export const TEMPLATES = {
  pxelinuxDefault,
  pxelinuxNetboot,
  grubCfg,
  grubNetboot,
  bootIpxe,
  ipxeNetboot,
  readme,
  marker,
  dhcpIsc,
  dhcpDnsmasq,
  dhcpKea,
  dhcpIscHttp,
  dhcpDnsmasqHttp,
  dhcpKeaHttp,
} as const;

/**
 * Where an iPXE profile fetches kernel and initrd: over HTTP from the pxeboot server itself when
 * `serve --http PORT` runs, else relative to the script's own URL (tftp://next-server/… when it
 * came over TFTP). The address is written in, not iPXE's ${next-server}: a DHCP server that hands
 * iPXE a URL sets no next-server (Kea) or its own address (dnsmasq), which is not pxeboot's.
 */
export function ipxeBase(httpPort: number | undefined, server: string): { base: string; via: string } {
  if (httpPort === undefined) return { base: "", via: "" };
  return { base: `http://${server}:${httpPort}`, via: `\n# Kernel and initrd come over HTTP (pxeboot serve --http ${httpPort} on ${server}).` };
}

/** What UEFI arm64 clients (option 93 = 11) boot: shim, which loads the signed GRUB beside it. */
export const UEFI_ARM64_BOOT_FILE = BOOT_FILES.uefiArm64[0];

/**
 * The DHCP snippets for the three common servers, pointing clients at `server`; UEFI x64 clients
 * (option 93 = 7 or 9) get `uefiBootFile`, UEFI arm64 (11) shimaa64.efi, BIOS clients
 * pxelinux.0, iPXE boot.ipxe; with `httpPort`, UEFI HTTP Boot x64 (16) ipxe.efi and arm64 (19)
 * shimaa64.efi as URLs.
 */
export function dhcpSnippets(server: string, uefiBootFile: string, httpPort?: number): string {
  const templates = httpPort === undefined
    ? [TEMPLATES.dhcpIsc, TEMPLATES.dhcpDnsmasq, TEMPLATES.dhcpKea]
    : [TEMPLATES.dhcpIscHttp, TEMPLATES.dhcpDnsmasqHttp, TEMPLATES.dhcpKeaHttp];
  return templates.map((t) => render(t, { server, uefi: uefiBootFile, uefiArm64: UEFI_ARM64_BOOT_FILE, port: httpPort === undefined ? undefined : String(httpPort) })).join("\n");
}

/**
 * The one line an installer's %post runs to report "installed": curl where the image has it,
 * else busybox tftp (installer images without wget or curl), else tftp-hpa. Each client's
 * failure falls through to the next; tftp-hpa comes last because it exits 0 even on an error.
 * `port` is for tests on unprivileged ports; the documented line uses port 69.
 */
export function markerFetchCommand(server: string, marker: string, port?: number, httpPort?: number): string {
  const url = port ? `${server}:${port}` : server;
  const sp = port ? ` ${port}` : "";
  return [
    // Over HTTP first where serve --http runs: it counts the same, and curl is in most installers.
    ...(httpPort ? [`curl -sf http://${server}:${httpPort}/${marker} -o /dev/null`] : []),
    `curl -s tftp://${url}/${marker} -o /dev/null`,
    `busybox tftp -g -r ${marker} -l /dev/null ${server}${sp}`,
    `tftp -m binary ${server}${sp} -c get ${marker} /dev/null`,
  ].join(" || ");
}
