import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatInitReport, initLayout, uefiBootFile } from "../../src/layout/init.ts";
import { listProfiles } from "../../src/layout/profiles.ts";
import { dhcpSnippets, render, TEMPLATES } from "../../src/layout/templates.ts";
import { cleanup, fakeSysroot, tempDir } from "./fixtures.ts";

afterEach(cleanup);

describe("pxeboot init", () => {
  test("creates the layout with one netboot config per profile, in all three loaders' syntax", async () => {
    const root = tempDir();
    const r = await initLayout(root, { profiles: ["7.2", "rhel9"], sysroot: fakeSysroot() });
    expect(r.missing).toEqual([]);
    expect(r.steps.every((s) => s.action === "create")).toBe(true);
    const def = readFileSync(join(root, "pxelinux.cfg/default"), "utf8");
    expect(def).toMatch(/^DEFAULT local$/m);
    expect(def).toMatch(/^\s*LOCALBOOT 0$/m);
    const p = readFileSync(join(root, "pxelinux.cfg/default.netboot-7.2"), "utf8");
    expect(p).toMatch(/^\s*KERNEL vmlinuz-7\.2$/m);
    expect(p).toMatch(/^\s*INITRD initrd-7\.2\.img$/m);
    expect(p).toMatch(/^\s*APPEND .*ks=/m);
    expect(readFileSync(join(root, "grub/netboot-rhel9.cfg"), "utf8")).toContain("linux /vmlinuz-rhel9");
    expect(readFileSync(join(root, "ipxe/netboot-rhel9.ipxe"), "utf8")).toContain("initrd /initrd-rhel9.img");
    expect(readFileSync(join(root, "boot.ipxe"), "utf8")).toStartWith("#!ipxe");
    expect(readFileSync(join(root, "grub/grub.cfg"), "utf8")).toContain("$net_default_mac");
    // Not empty: curl rejects an empty file's OACK, and the marker must work with every client.
    expect(readFileSync(join(root, "Kickstart_end"), "utf8")).toContain("install-once marker");
    expect(readFileSync(join(root, "README"), "utf8")).toContain(
      "curl -s tftp://THIS-SERVER/Kickstart_end -o /dev/null || busybox tftp -g -r Kickstart_end -l /dev/null THIS-SERVER || tftp",
    );
    for (const d of [".pxeboot/installed", ".pxeboot/locks", ".pxeboot/removed", ".pxeboot/macs", "grub", "ipxe"])
      expect(statSync(join(root, d)).isDirectory()).toBe(true);
    expect(readFileSync(join(root, "README"), "utf8")).toContain(`pxeboot serve --root ${root}`);
    expect(readFileSync(join(root, "pxelinux.0"), "utf8")).toBe("fake pxelinux.0 from pxelinux\n");
    expect(readFileSync(join(root, "ldlinux.c32"), "utf8")).toBe("fake ldlinux.c32 from syslinux-common\n");
    expect(readFileSync(join(root, "ipxe.efi"), "utf8")).toBe("fake ipxe.efi from ipxe\n");
    expect(listProfiles(root)).toEqual(["7.2", "rhel9"]);
    // No temporary files left behind by the atomic writes.
    expect(readdirSync(root).filter((n) => n.includes("pxeboot-tmp"))).toEqual([]);
  });

  test("without the packages, names exactly which package provides each missing loader", async () => {
    const root = tempDir();
    const r = await initLayout(root, { sysroot: tempDir("pxeboot-empty-sys-") });
    const byPath = Object.fromEntries(r.missing.map((m) => [m.path, m]));
    expect(byPath["pxelinux.0"]!.required).toBe(true);
    expect(byPath["pxelinux.0"]!.install).toContain("apt-get install pxelinux");
    expect(byPath["pxelinux.0"]!.install).toContain("syslinux-tftpboot");
    expect(byPath["ldlinux.c32"]!.install).toContain("apt-get install syslinux-common");
    expect(byPath["syslinux.efi"]!.install).toContain("syslinux-efi");
    expect(byPath["ipxe.efi"]!.required).toBe(false);
    expect(byPath["ipxe.efi"]!.install).toContain("apt-get install ipxe");
    const text = formatInitReport(r);
    expect(text).toMatch(/MISSING\s+pxelinux\.0 — .*apt-get install pxelinux/);
    expect(existsSync(join(root, "pxelinux.0"))).toBe(false);
  });

  test("only the BIOS packages (pxelinux, syslinux-common): BIOS files copied, UEFI ones named", async () => {
    const root = tempDir();
    const sys = fakeSysroot(["pxelinux.0", "ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32", "ldlinux.e64"]);
    const r = await initLayout(root, { sysroot: sys });
    expect(r.missing.map((m) => m.path).sort()).toEqual(["grubaa64.efi", "grubx64.efi", "ipxe.efi", "shimaa64.efi", "shimx64.efi", "snponly.efi", "syslinux.efi", "undionly.kpxe"]);
    expect(r.missing.every((m) => !m.required)).toBe(true);
  });

  test("UEFI clients are sent to shim (Secure Boot on or off), else syslinux.efi, else ipxe.efi", async () => {
    expect(uefiBootFile(await initLayout(tempDir(), { dryRun: true }))).toBe("shimx64.efi");
    const all = await initLayout(tempDir(), { dryRun: true, sysroot: fakeSysroot() });
    expect(uefiBootFile(all)).toBe("shimx64.efi");
    const noGrub = await initLayout(tempDir(), { dryRun: true, sysroot: fakeSysroot(["pxelinux.0", "ldlinux.c32", "shimx64.efi", "syslinux.efi", "ldlinux.e64"]) });
    expect(uefiBootFile(noGrub)).toBe("syslinux.efi");
    const ipxeOnly = await initLayout(tempDir(), { dryRun: true, sysroot: fakeSysroot(["pxelinux.0", "ldlinux.c32", "ipxe.efi"]) });
    expect(uefiBootFile(ipxeOnly)).toBe("ipxe.efi");
  });

  test("--dry-run plans the same steps and writes nothing", async () => {
    const root = join(tempDir(), "tree");
    const r = await initLayout(root, { profiles: ["7.2"], dryRun: true, sysroot: fakeSysroot() });
    expect(existsSync(root)).toBe(false);
    expect(r.steps.map((s) => s.path)).toContain("pxelinux.cfg/default.netboot-7.2");
    expect(formatInitReport(r)).toContain("would create         pxelinux.cfg/default");
  });

  test("re-running keeps edited files, adds new profiles; --force overwrites", async () => {
    const root = tempDir();
    const sys = fakeSysroot();
    await initLayout(root, { profiles: ["7.2"], sysroot: sys });
    const edited = join(root, "pxelinux.cfg/default.netboot-7.2");
    writeFileSync(edited, "DEFAULT mine\n");
    writeFileSync(join(root, "pxelinux.0"), "my own build\n");
    const again = await initLayout(root, { profiles: ["7.2", "8.1"], sysroot: sys });
    expect(readFileSync(edited, "utf8")).toBe("DEFAULT mine\n");
    expect(readFileSync(join(root, "pxelinux.0"), "utf8")).toBe("my own build\n");
    expect(again.steps.find((s) => s.path === "pxelinux.cfg/default.netboot-8.1")!.action).toBe("create");
    expect(again.steps.find((s) => s.path === "pxelinux.cfg/default.netboot-7.2")!.action).toBe("keep");
    const dry = await initLayout(root, { profiles: ["7.2"], force: true, dryRun: true, sysroot: sys });
    expect(dry.steps.find((s) => s.path === "pxelinux.0")!.action).toBe("overwrite");
    expect(readFileSync(edited, "utf8")).toBe("DEFAULT mine\n");
    await initLayout(root, { profiles: ["7.2"], force: true, sysroot: sys });
    expect(readFileSync(edited, "utf8")).toContain("KERNEL vmlinuz-7.2");
    expect(readFileSync(join(root, "pxelinux.0"), "utf8")).toBe("fake pxelinux.0 from pxelinux\n");
  });

  test("bad profile names and a DIR that is a file are refused with the fix", async () => {
    const root = tempDir();
    await expect(initLayout(root, { profiles: ["../etc"] })).rejects.toThrow(/profile '\.\.\/etc' is not a usable name: use letters/);
    const file = join(root, "f");
    writeFileSync(file, "");
    await expect(initLayout(file, {})).rejects.toThrow(/exists and is not a directory/);
  });
});

describe("pxeboot init for HTTP boot (serve --http PORT)", () => {
  test("iPXE profiles load kernel and initrd over HTTP from the server's address (not DHCP's next-server); the marker line tries HTTP first", async () => {
    const root = tempDir();
    await initLayout(root, { profiles: ["7.2"], sysroot: fakeSysroot(), httpPort: 8080, server: "10.0.0.1" });
    const ipxe = readFileSync(join(root, "ipxe/netboot-7.2.ipxe"), "utf8");
    expect(ipxe).toMatch(/^kernel http:\/\/10\.0\.0\.1:8080\/vmlinuz-7\.2 initrd=initrd-7\.2\.img /m);
    expect(ipxe).toMatch(/^initrd http:\/\/10\.0\.0\.1:8080\/initrd-7\.2\.img$/m);
    expect(ipxe).not.toContain("next-server");
    const readme = readFileSync(join(root, "README"), "utf8");
    expect(readme).toContain(`pxeboot serve --root ${root} --http 8080`);
    expect(readme).toContain("curl -sf http://THIS-SERVER:8080/Kickstart_end -o /dev/null || curl -s tftp://THIS-SERVER/Kickstart_end");
    // Without --http, the profile's paths stay relative to the script (TFTP).
    const plain = tempDir();
    await initLayout(plain, { profiles: ["7.2"], sysroot: fakeSysroot() });
    expect(readFileSync(join(plain, "ipxe/netboot-7.2.ipxe"), "utf8")).toContain("\nkernel /vmlinuz-7.2 ");
  });

  test("DHCP snippets give iPXE and UEFI HTTP Boot (vendor class HTTPClient) URLs, the rest TFTP", () => {
    const s = dhcpSnippets("10.0.0.1", "syslinux.efi", 8080);
    // ISC dhcpd
    expect(s).toContain('filename "http://10.0.0.1:8080/boot.ipxe";');
    expect(s).toContain('match if substring (option vendor-class-identifier, 0, 10) = "HTTPClient";');
    expect(s).toContain('option vendor-class-identifier "HTTPClient";');
    expect(s).toContain('filename "http://10.0.0.1:8080/ipxe.efi";');
    // dnsmasq
    expect(s).toContain("dhcp-vendorclass=set:httpboot,HTTPClient");
    expect(s).toContain("dhcp-option-force=tag:httpboot,60,HTTPClient");
    expect(s).toContain("dhcp-boot=tag:ipxe,http://10.0.0.1:8080/boot.ipxe");
    expect(s).toContain("dhcp-boot=tag:!ipxe,tag:!httpboot,tag:!efi-x64,tag:!efi-arm64,pxelinux.0,,10.0.0.1");
    // HTTP Boot arm64 (arch 19) gets the arm64 shim, x64 (16) ipxe.efi.
    expect(s).toContain("dhcp-match=set:http-arm64,option:client-arch,19");
    expect(s).toContain("dhcp-boot=tag:!ipxe,tag:httpboot,tag:http-arm64,http://10.0.0.1:8080/shimaa64.efi");
    expect(s).toContain('filename "http://10.0.0.1:8080/shimaa64.efi";');
    expect(s).toContain(`"test": "not member('ipxe') and substring(option[60].hex,0,10) == 'HTTPClient' and option[93].hex == 0x0013"`);
    // Kea: iPXE gets a URL and the server as next-server too.
    expect(s).toContain(`"next-server": "10.0.0.1", "boot-file-name": "http://10.0.0.1:8080/boot.ipxe"`);
    expect(s).toContain('"boot-file-name": "http://10.0.0.1:8080/ipxe.efi"');
    expect(s).toContain(`{ "name": "vendor-class-identifier", "data": "HTTPClient" }`);
    expect(s).not.toContain("{{");
    expect(dhcpSnippets("10.0.0.1", "syslinux.efi")).not.toContain("http://");
  });
});

describe("templates", () => {
  test("DHCP snippets choose the boot file by option 93 for ISC, dnsmasq and Kea", () => {
    const s = dhcpSnippets("10.0.0.1", "syslinux.efi");
    expect(s).toContain("option arch code 93");
    expect(s).toContain("next-server 10.0.0.1;");
    expect(s).toContain("dhcp-match=set:efi-x64,option:client-arch,7");
    expect(s).toContain("dhcp-boot=tag:!ipxe,tag:!efi-x64,tag:!efi-arm64,pxelinux.0,,10.0.0.1");
    // UEFI arm64 (arch 11) gets the arm64 shim in all three.
    expect(s).toContain("dhcp-match=set:efi-arm64,option:client-arch,11");
    expect(s).toContain("dhcp-boot=tag:!ipxe,tag:efi-arm64,shimaa64.efi,,10.0.0.1");
    expect(s).toContain('} elsif option arch = 00:0b {\n  filename "shimaa64.efi";');
    expect(s).toContain(`"test": "not member('ipxe') and option[93].hex == 0x000b",\n    "next-server": "10.0.0.1", "boot-file-name": "shimaa64.efi"`);
    expect(s).toContain("option[93].hex == 0x0007");
    expect(s).toContain('filename "syslinux.efi";');
    expect(s).toContain("dhcp-boot=tag:!ipxe,tag:efi-x64,syslinux.efi,,10.0.0.1");
    expect(s).toContain('"boot-file-name": "syslinux.efi"');
    expect(s).not.toContain("{{");
  });

  test("render refuses a template variable without a value", () => {
    expect(() => render(TEMPLATES.pxelinuxNetboot, { name: "7.2" })).toThrow(/\{\{marker\}\}/);
  });
});
