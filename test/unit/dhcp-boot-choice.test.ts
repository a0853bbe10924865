import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chooseBoot, type BootPolicy, type HostFacts, type TreeFacts } from "../../src/dhcp/boot-choice.ts";
import { classify, type PxeRequest } from "../../src/dhcp/pxe-request.ts";
import { treeFacts } from "../../src/dhcp/tree-facts.ts";
import { addHosts } from "../../src/layout/hosts.ts";
import { parseHostSpec } from "../../src/layout/hostspec.ts";
import { switchHost } from "../../src/layout/switch-host.ts";
import { createLogger } from "../../src/log.ts";
import { cleanup, freshTree } from "../layout/fixtures.ts";
import { FIRMWARE, clientPacket, type ClientShape } from "./dhcp-client-packets.ts";

afterEach(cleanup);

const SERVER = "10.0.0.1";
const MAC = "52:54:00:12:34:56";
const ALL_LOADERS = ["pxelinux.0", "undionly.kpxe", "syslinux.efi", "ldlinux.e64", "ipxe.efi", "boot.ipxe", "ipxe-arm64.efi"];

function fakeTree(files: string[] = ALL_LOADERS, host: HostFacts = { pending: false, installed: false }): TreeFacts {
  return { has: (p) => files.includes(p), host: () => host };
}

function req(shape: ClientShape): PxeRequest {
  const c = classify(clientPacket(shape), "dhcp");
  if (!c.pxe) throw new Error(c.reason);
  return c.request;
}

const open: BootPolicy = { knownOnly: false };
const withHttp: BootPolicy = { knownOnly: false, httpPort: 8080 };

describe("the boot file offered follows the client and the tree", () => {
  test.each([
    ["BIOS PXE ROM", FIRMWARE.biosPxe, open, "pxelinux.0", true],
    ["SeaBIOS iPXE ROM (user class iPXE)", FIRMWARE.seabiosIpxe, open, "boot.ipxe", true],
    ["iPXE with --http: boot.ipxe over HTTP", FIRMWARE.seabiosIpxe, withHttp, "http://10.0.0.1:8080/boot.ipxe", true],
    ["OVMF x64 (arch 7)", FIRMWARE.ovmf, open, "syslinux.efi", true],
    ["EFI BC (arch 9)", { vendorClass: "PXEClient:Arch:00009", arch: 9 }, open, "syslinux.efi", true],
    ["EFI IA32 (arch 6)", { vendorClass: "PXEClient:Arch:00006", arch: 6 }, open, "syslinux.efi", true],
    ["arm64 UEFI (arch 11)", FIRMWARE.arm64, open, "ipxe-arm64.efi", true],
    ["HTTP Boot x64 (arch 16): a URL, no option 43", FIRMWARE.ovmfHttp, withHttp, "http://10.0.0.1:8080/ipxe.efi", false],
    ["HTTP Boot arm64 (arch 19)", { vendorClass: "HTTPClient:Arch:00019", arch: 19 }, withHttp, "http://10.0.0.1:8080/ipxe-arm64.efi", false],
  ] as [string, ClientShape, BootPolicy, string, boolean][])("%s", (...row) => {
    const [, shape, policy, file, control] = row;
    expect(chooseBoot(req(shape), fakeTree(), policy, SERVER)).toMatchObject({ answer: true, file, discoveryControl: control });
  });

  test("init's UEFI default: shim (with its GRUB beside it) first, for x64 and arm64; shim alone is passed over", () => {
    const withShim = fakeTree([...ALL_LOADERS, "shimx64.efi", "grubx64.efi", "shimaa64.efi", "grubaa64.efi"]);
    expect(chooseBoot(req(FIRMWARE.ovmf), withShim, open, SERVER)).toMatchObject({ file: "shimx64.efi" });
    expect(chooseBoot(req({ vendorClass: "PXEClient:Arch:00011", arch: 11 }), withShim, open, SERVER)).toMatchObject({ file: "shimaa64.efi" });
    expect(chooseBoot(req(FIRMWARE.ovmf), fakeTree([...ALL_LOADERS, "shimx64.efi"]), open, SERVER)).toMatchObject({ file: "syslinux.efi" });
  });

  test("syslinux.efi without its ldlinux.e64 is passed over for ipxe.efi", () => {
    expect(chooseBoot(req(FIRMWARE.ovmf), fakeTree(["syslinux.efi", "ipxe.efi"]), open, SERVER)).toMatchObject({ file: "ipxe.efi" });
  });

  test("BIOS without pxelinux.0 falls back to undionly.kpxe", () => {
    expect(chooseBoot(req(FIRMWARE.biosPxe), fakeTree(["undionly.kpxe"]), open, SERVER)).toMatchObject({ file: "undionly.kpxe" });
  });

  test.each([
    ["HTTP Boot without --http", FIRMWARE.ovmfHttp, fakeTree(), "no --http"],
    ["an unknown architecture", { vendorClass: "PXEClient:Arch:00002", arch: 2 }, fakeTree(), "architecture 2"],
    ["a tree without a UEFI loader", FIRMWARE.ovmf, fakeTree(["pxelinux.0"]), "none of shimx64.efi, syslinux.efi, ipxe.efi"],
    ["iPXE and no boot.ipxe", FIRMWARE.seabiosIpxe, fakeTree(["pxelinux.0"]), "none of boot.ipxe"],
  ] as [string, ClientShape, TreeFacts, string][])("no offer: %s", (...row) => {
    const [, shape, tree, reason] = row;
    const c = chooseBoot(req(shape), tree, open, SERVER);
    expect(c.answer).toBe(false);
    if (!c.answer) expect(c.reason).toContain(reason);
  });

  test("install-once: an installed host gets no offer; --proxy-dhcp-known-only turns unknown hosts away", () => {
    const installed = fakeTree(ALL_LOADERS, { pending: false, installed: true });
    expect(chooseBoot(req(FIRMWARE.biosPxe), installed, open, SERVER)).toMatchObject({ answer: false, reason: expect.stringContaining("installed") });
    const unknown = fakeTree();
    expect(chooseBoot(req(FIRMWARE.biosPxe), unknown, { knownOnly: true }, SERVER)).toMatchObject({ answer: false, reason: expect.stringContaining("known-only") });
    const known = fakeTree(ALL_LOADERS, { pending: true, installed: false, profile: "7.2" });
    expect(chooseBoot(req(FIRMWARE.biosPxe), known, { knownOnly: true }, SERVER)).toMatchObject({ answer: true, profile: "7.2", registered: true });
  });
});

describe("tree facts: the state `host add` and install-once leave", () => {
  test("a MAC added is pending with its profile; after install-once switched it, installed", async () => {
    const root = await freshTree(["7.2"]);
    const tree = treeFacts(root, { maxAgeMs: 0 });
    expect(tree.host(MAC)).toEqual({ pending: false, installed: false });
    addHosts(root, parseHostSpec(MAC), "7.2");
    expect(tree.host(MAC)).toEqual({ pending: true, installed: false, profile: "7.2" });
    // The TFTP side's install-once: the marker fetch from 10.0.0.50, whose MAC the kernel knows.
    const arp = join(root, "arp");
    writeFileSync(arp, `IP address HW type Flags HW address Mask Device\n10.0.0.50 0x1 0x2 ${MAC} * eth0\n`);
    const r = await switchHost({ root, log: createLogger({ format: "json", level: "error" }), neighbourTable: arp }, "10.0.0.50");
    expect(r.outcome).toBe("installed");
    expect(tree.host(MAC)).toEqual({ pending: false, installed: true });
    expect(chooseBoot(req(FIRMWARE.biosPxe), tree, open, SERVER)).toMatchObject({ answer: false });
    // `host add` again: installs again.
    addHosts(root, parseHostSpec(MAC), "7.2");
    expect(chooseBoot(req(FIRMWARE.biosPxe), tree, open, SERVER)).toMatchObject({ answer: true, file: "pxelinux.0", profile: "7.2" });
  });

  test("has() sees the loaders init copied, and not directories", async () => {
    const root = await freshTree(["7.2"]);
    const tree = treeFacts(root, { maxAgeMs: 0 });
    expect(tree.has("pxelinux.0")).toBe(true);
    expect(tree.has("boot.ipxe")).toBe(true);
    expect(tree.has("pxelinux.cfg")).toBe(false);
    expect(tree.has("nonesuch.efi")).toBe(false);
  });
});
