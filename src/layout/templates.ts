/**
 * The default layout's text, embedded in the executable (Bun inlines `type: "text"` imports under
 * `bun build --compile`), so `pxeboot init` needs no files next to the binary.
 */
import bootIpxe from "./templates/boot.ipxe.txt" with { type: "text" };
import dhcpDnsmasq from "./templates/dhcp-dnsmasq.txt" with { type: "text" };
import dhcpIsc from "./templates/dhcp-isc.txt" with { type: "text" };
import dhcpKea from "./templates/dhcp-kea.txt" with { type: "text" };
import grubNetboot from "./templates/grub-netboot.txt" with { type: "text" };
import grubCfg from "./templates/grub.cfg.txt" with { type: "text" };
import ipxeNetboot from "./templates/ipxe-netboot.txt" with { type: "text" };
import pxelinuxDefault from "./templates/pxelinux-default.txt" with { type: "text" };
import pxelinuxNetboot from "./templates/pxelinux-netboot.txt" with { type: "text" };
import readme from "./templates/README.txt" with { type: "text" };

export interface TemplateVars {
  name?: string;
  marker?: string;
  root?: string;
  server?: string;
  uefi?: string;
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
  dhcpIsc,
  dhcpDnsmasq,
  dhcpKea,
} as const;

/**
 * The DHCP snippets for the three common servers, pointing clients at `server`; UEFI x64 clients
 * (option 93 = 7 or 9) get `uefiBootFile`, BIOS clients pxelinux.0, iPXE boot.ipxe.
 */
export function dhcpSnippets(server: string, uefiBootFile: string): string {
  return [TEMPLATES.dhcpIsc, TEMPLATES.dhcpDnsmasq, TEMPLATES.dhcpKea]
    .map((t) => render(t, { server, uefi: uefiBootFile }))
    .join("\n");
}
