import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootChain } from "../../src/layout/boot-chain.ts";
import { expandIpxe, ipxeChains, ipxeEntry, pxelinuxEntry } from "../../src/layout/pxelinux-config.ts";
import { initLayout } from "../../src/layout/init.ts";
import { TEMPLATES } from "../../src/layout/templates.ts";
import { UsageError } from "../../src/cli/args.ts";
import { atomicSymlink } from "../../src/layout/atomic.ts";
import { parseIPv4, parseMac } from "../../src/layout/hexip.ts";
import { addHosts, listHosts, removeHosts, whichHost } from "../../src/layout/hosts.ts";
import { parseHostSpec } from "../../src/layout/hostspec.ts";
import { requireProfile } from "../../src/layout/profiles.ts";
import { cleanup, fakeSysroot, freshTree, tempDir, write } from "./fixtures.ts";

afterEach(cleanup);

const link = (root: string, rel: string) => readlinkSync(join(root, rel));
const isLink = (root: string, rel: string) => {
  try {
    return lstatSync(join(root, rel)).isSymbolicLink();
  } catch {
    return false;
  }
};

describe("host add", () => {
  test("192.168.0.11 7.2 makes pxelinux.cfg/C0A8000B -> default.netboot-7.2, plus the GRUB and iPXE names", async () => {
    const root = await freshTree(["7.2"]);
    const r = addHosts(root, parseHostSpec("192.168.0.11"), requireProfile(root, "7.2"));
    expect(r.links).toEqual(["pxelinux.cfg/C0A8000B", "grub/ip-192.168.0.11.cfg", "ipxe/ip-192.168.0.11.ipxe"]);
    expect(link(root, "pxelinux.cfg/C0A8000B")).toBe("default.netboot-7.2");
    expect(link(root, "grub/ip-192.168.0.11.cfg")).toBe("netboot-7.2.cfg");
    expect(link(root, "ipxe/ip-192.168.0.11.ipxe")).toBe("netboot-7.2.ipxe");
  });

  test("a MAC gets 01-aa-bb-…; the profile's file name is accepted too", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("AA:BB:CC:DD:EE:FF"), requireProfile(root, "default.netboot-7.2"));
    expect(link(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe("default.netboot-7.2");
    expect(link(root, "grub/mac-aa:bb:cc:dd:ee:ff.cfg")).toBe("netboot-7.2.cfg");
    expect(link(root, "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe")).toBe("netboot-7.2.ipxe");
  });

  test("a CIDR block adds every host; re-adding switches the profile in place, atomically", async () => {
    const root = await freshTree(["7.2", "8.1"]);
    addHosts(root, parseHostSpec("10.0.0.0/29"), "7.2");
    const names = readdirSync(join(root, "pxelinux.cfg")).filter((n) => n.startsWith("0A"));
    expect(names.sort()).toEqual(["0A000001", "0A000002", "0A000003", "0A000004", "0A000005", "0A000006"]);
    expect(addHosts(root, parseHostSpec("10.0.0.3"), "8.1").switched).toEqual([{ host: "10.0.0.3", from: "7.2" }]);
    expect(link(root, "pxelinux.cfg/0A000003")).toBe("default.netboot-8.1");
    // Same profile again: nothing switched, nothing to say.
    expect(addHosts(root, parseHostSpec("10.0.0.3"), "8.1").switched).toEqual([]);
    expect(link(root, "pxelinux.cfg/0A000004")).toBe("default.netboot-7.2");
    // Nothing but the links themselves: no temporary names survive.
    expect(readdirSync(join(root, "pxelinux.cfg")).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("replacing a link never leaves a moment without one (rename over the old link)", async () => {
    const root = await freshTree(["7.2", "8.1"]);
    const path = join(root, "pxelinux.cfg/C0A8000B");
    atomicSymlink(path, "default.netboot-7.2");
    const ino = lstatSync(path).ino;
    atomicSymlink(path, "default.netboot-8.1");
    expect(readlinkSync(path)).toBe("default.netboot-8.1");
    expect(lstatSync(path).ino).not.toBe(ino); // a new link renamed into place, not rewritten
  });

  test("an unknown profile is an error that lists the known ones", async () => {
    const root = await freshTree(["7.2", "8.1"]);
    expect(() => requireProfile(root, "9.0")).toThrow(UsageError);
    expect(() => requireProfile(root, "9.0")).toThrow(/unknown profile '9\.0' .*known profiles: 7\.2, 8\.1.*--profile 9\.0/);
  });

  test("a loader without that profile's config is skipped and reported, not linked to nothing", async () => {
    const root = await freshTree(["7.2"]);
    unlinkSync(join(root, "grub/netboot-7.2.cfg"));
    const r = addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    expect(r.skipped).toEqual(["grub/netboot-7.2.cfg"]);
    expect(isLink(root, "grub/ip-192.168.0.11.cfg")).toBe(false);
  });
});

describe("host remove and list", () => {
  test("remove takes away every name of the host and is idempotent", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    addHosts(root, parseHostSpec("192.168.0.12"), "7.2");
    expect(removeHosts(root, parseHostSpec("192.168.0.11")).sort()).toEqual([
      "grub/ip-192.168.0.11.cfg",
      "ipxe/ip-192.168.0.11.ipxe",
      "pxelinux.cfg/C0A8000B",
    ]);
    expect(removeHosts(root, parseHostSpec("192.168.0.11"))).toEqual([]);
    expect(isLink(root, "pxelinux.cfg/C0A8000C")).toBe(true);
  });

  test("list shows host, file, profile and state, sorted by address; installed records included", async () => {
    const root = await freshTree(["7.2", "8.1"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    addHosts(root, parseHostSpec("10.0.0.5"), "8.1");
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "8.1");
    symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg/C0A801")); // a subnet entry made by hand
    write(root, ".pxeboot/installed/C0A8000D", JSON.stringify({ host: "192.168.0.13", file: "C0A8000D", profile: "7.2", time: "2026-01-01T00:00:00.000Z" }));
    expect(listHosts(root)).toEqual([
      { host: "10.0.0.5", file: "0A000005", profile: "8.1", state: "pending" },
      { host: "192.168.0.11", file: "C0A8000B", profile: "7.2", state: "pending" },
      { host: "192.168.0.13", file: "C0A8000D", profile: "7.2", state: "installed", installedAt: "2026-01-01T00:00:00.000Z" },
      { host: "192.168.1.0/24", file: "C0A801", profile: "7.2", state: "pending" },
      { host: "aa:bb:cc:dd:ee:ff", file: "01-aa-bb-cc-dd-ee-ff", profile: "8.1", state: "pending" },
    ]);
  });

  test("adding a host again clears its installed record (install it again)", async () => {
    const root = await freshTree(["7.2"]);
    write(root, ".pxeboot/installed/C0A8000B", JSON.stringify({ host: "192.168.0.11", file: "C0A8000B", profile: "7.2", time: "t" }));
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    expect(listHosts(root).map((h) => h.state)).toEqual(["pending"]);
  });
});

describe("host which", () => {
  test("walks UUID, 01-MAC, the hex IP shrinking digit by digit, then default", async () => {
    const root = await freshTree(["7.2"]);
    const steps = whichHost(root, {
      ip: parseIPv4("192.168.0.11"),
      mac: parseMac("aa:bb:cc:dd:ee:ff"),
      uuid: "b8945908-d6a6-41a9-611d-74a6ab80b83d",
    });
    expect(steps.map((s) => s.path.replace("pxelinux.cfg/", ""))).toEqual([
      "b8945908-d6a6-41a9-611d-74a6ab80b83d",
      "01-aa-bb-cc-dd-ee-ff",
      "C0A8000B", "C0A8000", "C0A800", "C0A80", "C0A8", "C0A", "C0", "C",
      "default",
    ]);
    expect(steps.filter((s) => s.chosen).map((s) => s.path)).toEqual(["pxelinux.cfg/default"]);
  });

  test("the first existing name wins and shows the file it resolves to", async () => {
    const root = await freshTree(["7.2", "8.1"]);
    symlinkSync("default.netboot-8.1", join(root, "pxelinux.cfg/C0A800"));
    let steps = whichHost(root, { ip: parseIPv4("192.168.0.11") });
    let chosen = steps.find((s) => s.chosen)!;
    expect(chosen.path).toBe("pxelinux.cfg/C0A800");
    expect(chosen.resolved).toBe("pxelinux.cfg/default.netboot-8.1");
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    steps = whichHost(root, { ip: parseIPv4("192.168.0.11"), mac: parseMac("aa:bb:cc:dd:ee:ff") });
    chosen = steps.find((s) => s.chosen)!;
    expect(chosen.path).toBe("pxelinux.cfg/C0A8000B");
    expect(chosen.linkTarget).toBe("default.netboot-7.2");
    expect(steps.filter((s) => s.chosen).length).toBe(1);
  });

  test("a dangling link is passed over, as pxelinux gets file-not-found for it", async () => {
    const root = await freshTree(["7.2"]);
    symlinkSync("default.netboot-gone", join(root, "pxelinux.cfg/C0A8000B"));
    writeFileSync(join(root, "pxelinux.cfg/C0A8"), "DEFAULT local\n");
    const steps = whichHost(root, { ip: parseIPv4("192.168.0.11") });
    expect(steps[0]).toMatchObject({ exists: false, linkTarget: "default.netboot-gone", resolved: "(dangling)" });
    expect(steps.find((s) => s.chosen)!.path).toBe("pxelinux.cfg/C0A8");
  });
});

describe("host which: the whole chain", () => {

  test.each([
    ["DEFAULT install\nLABEL install\n  KERNEL vmlinuz-7.2\n  INITRD initrd-7.2.img\n  APPEND ks=http://x/ks.cfg\n", { kernel: "vmlinuz-7.2", initrds: ["initrd-7.2.img"], append: "ks=http://x/ks.cfg", localBoot: false }],
    ["DEFAULT local\nLABEL local\n LOCALBOOT 0\n", { localBoot: true, initrds: [] }],
    ["DEFAULT vmlinuz initrd=a.img,b.img quiet\n", { kernel: "vmlinuz", initrds: ["a.img", "b.img"], localBoot: false }],
    ["default menu.c32\nlabel local\n localboot 0\nlabel netboot\n menu default\n linux vmlinuz\n append initrd=i.img\n", { kernel: "vmlinuz", initrds: ["i.img"], menu: "menu.c32", label: "netboot" }],
  ])("%j", (text, want) => {
    expect(pxelinuxEntry(text)).toMatchObject(want);
  });

  test("the config the search picks, its kernel and initrd, each checked present and readable", () => {
    const root = mkdtempSync(join(tmpdir(), "pxeboot-chain-"));
    mkdirSync(join(root, "pxelinux.cfg"));
    writeFileSync(join(root, "pxelinux.0"), "x");
    writeFileSync(join(root, "ldlinux.c32"), "x");
    writeFileSync(join(root, "vmlinuz"), "kernel");
    writeFileSync(join(root, "pxelinux.cfg/C0A8000B"), "DEFAULT i\nLABEL i\n KERNEL vmlinuz\n INITRD initrd.img\n");
    const chain = bootChain(root, { ip: parseIPv4("192.168.0.11")! }, "bios");
    expect(chain.files.map((f) => [f.role, f.path, f.present])).toEqual([
      ["loader", "pxelinux.0", true],
      ["module", "ldlinux.c32", true],
      ["config", "pxelinux.cfg/C0A8000B", true],
      ["kernel", "vmlinuz", true],
      ["initrd", "initrd.img", false],
    ]);
    chmodSync(join(root, "vmlinuz"), 0o600);
    expect(bootChain(root, { ip: parseIPv4("192.168.0.11")! }, "bios", 4242).files[3]!.readable).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });
});

describe("host which: the shim → GRUB chain", () => {
  test("grub.cfg, then the MAC's entry, then the IP's; the entry's kernel and initrd; no entry: the local disk", () => {
    const root = mkdtempSync(join(tmpdir(), "pxeboot-grubchain-"));
    mkdirSync(join(root, "grub"));
    for (const f of ["shimx64.efi", "grubx64.efi", "shimaa64.efi", "grubaa64.efi", "vmlinuz-7.2", "initrd-7.2.img"]) writeFileSync(join(root, f), "x");
    writeFileSync(join(root, "grub/grub.cfg"), 'configfile "$prefix/mac-$net_default_mac.cfg"\nset timeout=0\nmenuentry "Local disk" {\n  exit\n}\n');
    writeFileSync(join(root, "grub/netboot-7.2.cfg"), 'set timeout=0\nmenuentry "Install 7.2" {\n  linux /vmlinuz-7.2 ip=dhcp\n  initrd /initrd-7.2.img\n}\n');
    symlinkSync("netboot-7.2.cfg", join(root, "grub/ip-192.168.0.11.cfg"));
    const chain = bootChain(root, { ip: parseIPv4("192.168.0.11")!, mac: "52:54:00:12:34:56" }, "efi64");
    expect(chain.dhcpBootFile).toStartWith("shimx64.efi");
    expect(chain.search.map((s) => [s.path, s.exists, s.chosen])).toEqual([
      ["grub/grub.cfg", true, false],
      ["grub/mac-52:54:00:12:34:56.cfg", false, false],
      ["grub/ip-192.168.0.11.cfg", true, true],
    ]);
    expect(chain.files.map((f) => f.path)).toEqual(["shimx64.efi", "grubx64.efi", "grub/grub.cfg", "grub/ip-192.168.0.11.cfg", "vmlinuz-7.2", "initrd-7.2.img"]);
    expect(chain.append).toBe("ip=dhcp");
    expect(bootChain(root, { ip: parseIPv4("192.168.0.11")! }, "arm64").dhcpBootFile).toStartWith("shimaa64.efi");
    expect(bootChain(root, { ip: parseIPv4("192.168.0.12")! }, "efi64").outcome).toContain("boots the local disk");
    rmSync(root, { recursive: true, force: true });
  });
});

describe("host which: iPXE and UEFI HTTP Boot", () => {
  const IP = parseIPv4("192.168.0.11")!;
  const MAC = "52:54:00:12:34:56";
  /** What the profile's iPXE script says, read from the file itself: the kernel line's URI and arguments, the initrd's URI. */
  const scriptSays = (root: string, profile: string) => {
    const text = readFileSync(join(root, `ipxe/netboot-${profile}.ipxe`), "utf8");
    const [, kernel, args] = /^kernel (\S+) (.*)$/m.exec(text)!;
    const [, initrd] = /^initrd (\S+)$/m.exec(text)!;
    return { kernel: kernel!, args: args!, initrd: initrd! };
  };
  /** The per-host names boot.ipxe chains to, in its order, read from the tree's boot.ipxe. */
  const chained = (root: string) => [...readFileSync(join(root, "boot.ipxe"), "utf8").matchAll(/^chain --autofree \/(\S+)/gm)].map((m) => m[1]!);

  test("--arch http: ipxe.efi over HTTP, iPXE asks again and gets boot.ipxe, whose chain finds the host's script, which names the kernel and initrd", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    const chain = bootChain(root, { ip: IP, mac: MAC }, "http");
    expect(chain.dhcp.map((d) => d.bootFile)).toEqual(["http://SERVER:PORT/ipxe.efi", "http://SERVER:PORT/boot.ipxe"]);
    expect(chain.dhcp[0]!.needs).toContain("option 60 HTTPClient");
    // boot.ipxe's own search, in its order, with the client's MAC and IP put in.
    expect(chained(root)).toEqual(["ipxe/mac-${mac:hexhyp}.ipxe", "ipxe/ip-${ip}.ipxe"]);
    expect(chain.search.map((s) => [s.path, s.exists, s.chosen])).toEqual([
      ["boot.ipxe", true, false],
      ["ipxe/mac-52-54-00-12-34-56.ipxe", false, false],
      ["ipxe/ip-192.168.0.11.ipxe", true, true],
    ]);
    const says = scriptSays(root, "7.2");
    expect(chain.files.map((f) => [f.role, f.path, f.present, f.via])).toEqual([
      ["loader", "ipxe.efi", true, "http"],
      ["config", "boot.ipxe", true, "http"],
      ["config", "ipxe/ip-192.168.0.11.ipxe", true, "http"],
      ["kernel", says.kernel.replace(/^\//, ""), false, "http"],
      ["initrd", says.initrd.replace(/^\//, ""), false, "http"],
    ]);
    expect(chain.append).toBe(says.args);
    expect(chain.outcome).toBe(`kernel ${says.kernel}`);
  });

  test("--ipxe: the script DHCP gives iPXE, the MAC's script first; a profile written for --http loads the kernel over HTTP", async () => {
    const root = tempDir();
    await initLayout(root, { profiles: ["7.2"], sysroot: fakeSysroot(), httpPort: 8080, server: "10.0.0.5" });
    addHosts(root, parseHostSpec(MAC), "7.2");
    for (const f of ["vmlinuz-7.2", "initrd-7.2.img"]) write(root, f, "x");
    const chain = bootChain(root, { ip: IP, mac: MAC }, "bios", undefined, { ipxe: true });
    expect(chain.ipxe).toBe(true);
    expect(chain.dhcp.map((d) => d.asker)).toEqual(["iPXE (user class iPXE, option 175)"]);
    expect(chain.dhcpBootFile).toStartWith("boot.ipxe");
    expect(chain.search.find((s) => s.chosen)?.path).toBe("ipxe/mac-52-54-00-12-34-56.ipxe");
    const says = scriptSays(root, "7.2");
    expect(says.kernel).toBe("http://10.0.0.5:8080/vmlinuz-7.2");
    expect(chain.files.map((f) => [f.role, f.path, f.via, f.present && f.readable])).toEqual([
      ["config", "boot.ipxe", "tftp or http", true],
      ["config", "ipxe/mac-52-54-00-12-34-56.ipxe", "tftp or http", true],
      ["kernel", "vmlinuz-7.2", "http", true],
      ["initrd", "initrd-7.2.img", "http", true],
    ]);
    // Readable by the serving user: a kernel only its owner (not that user) may read is flagged.
    chmodSync(join(root, "vmlinuz-7.2"), 0o600);
    expect(bootChain(root, { mac: MAC }, "bios", 4242, { ipxe: true }).files.find((f) => f.role === "kernel")!.readable).toBe(false);
  });

  test("no per-host script: boot.ipxe's fall-through, the local disk; an unknown MAC is said, not guessed", async () => {
    const root = await freshTree(["7.2"]);
    const chain = bootChain(root, { ip: parseIPv4("192.168.0.12")! }, "efi64", undefined, { ipxe: true });
    expect(chain.outcome).toContain("boots the local disk");
    expect(chain.search[1]).toMatchObject({ path: "ipxe/mac-${mac:hexhyp}.ipxe", exists: false });
    expect(chain.search[1]!.why).toContain("${mac:hexhyp} unknown");
    expect(chain.files.map((f) => f.path)).toEqual(["boot.ipxe"]);
  });

  test("the proxy's fallbacks lead to iPXE too: BIOS without pxelinux.0 gets undionly.kpxe, then boot.ipxe", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    unlinkSync(join(root, "pxelinux.0"));
    const chain = bootChain(root, { ip: IP }, "bios");
    expect(chain.dhcp.map((d) => d.bootFile)).toEqual(["undionly.kpxe", "boot.ipxe (or http://SERVER:PORT/boot.ipxe where serve --http runs)"]);
    expect(chain.files.map((f) => f.path)).toEqual(["undionly.kpxe", "boot.ipxe", "ipxe/ip-192.168.0.11.ipxe", "vmlinuz-7.2", "initrd-7.2.img"]);
  });

  test("--arch http-arm64: shimaa64.efi over HTTP, then GRUB's own search over HTTP", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    const chain = bootChain(root, { ip: IP }, "http-arm64");
    expect(chain.dhcpBootFile).toBe("http://SERVER:PORT/shimaa64.efi");
    expect(chain.files.map((f) => [f.path, f.via])).toEqual([
      ["shimaa64.efi", "http"],
      ["grubaa64.efi", "http"],
      ["grub/grub.cfg", "http"],
      ["grub/ip-192.168.0.11.cfg", "http"],
      ["vmlinuz-7.2", "http"],
      ["initrd-7.2.img", "http"],
    ]);
  });
});

describe("iPXE scripts as a dry run reads them", () => {
  test("init's boot.ipxe: the chain lines are the search, the fall-through the local disk; settings expand as iPXE's do", () => {
    expect(ipxeChains(TEMPLATES.bootIpxe)).toEqual(["/ipxe/mac-${mac:hexhyp}.ipxe", "/ipxe/ip-${ip}.ipxe"]);
    expect(ipxeEntry(TEMPLATES.bootIpxe, true).localBoot).toBe(true);
    const s = { mac: "52:54:00:ab:cd:ef", ip: "10.0.0.9", platform: "efi", buildarch: "x86_64" };
    expect(expandIpxe("${mac:hexhyp} ${net0/mac} ${mac:hexraw} ${ip} ${platform} ${hostname}", s)).toEqual({
      text: "52-54-00-ab-cd-ef 52:54:00:ab:cd:ef 525400abcdef 10.0.0.9 efi ${hostname}",
      unknown: ["${hostname}"],
    });
  });

  test("a profile script: kernel with its arguments, initrds and modules, options left out", () => {
    expect(ipxeEntry("#!ipxe\nkernel --name k /vmlinuz initrd=i.img quiet\ninitrd -n i.img /initrd.img\nmodule /extra.cpio\nboot\n")).toMatchObject({
      kernel: "/vmlinuz",
      append: "initrd=i.img quiet",
      initrds: ["/initrd.img", "/extra.cpio"],
      localBoot: false,
    });
    expect(ipxeEntry("#!ipxe\nsanboot --no-describe --drive 0x80\n").localBoot).toBe(true);
  });
});
