/** Boot records: what each file is to a boot, and how a host's requests fold into boots with verdicts. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classify } from "../../src/boots/classify.ts";
import { foldBoots, OFFER_FETCH_MS, QUIET_GAP_MS } from "../../src/boots/fold.ts";
import { createBootRecorder, eventOf } from "../../src/boots/recorder.ts";
import { BOOTS_DIR, HOST_FILE_MAX_BYTES, appendEvents, hostFileName, pruneHosts, readEvents, ensureBootsDir, listHostKeys } from "../../src/boots/store.ts";
import type { Boot, BootEvent } from "../../src/boots/types.ts";
import { escapeHtml, farmOrder, renderFarmPage } from "../../src/boots/farm-page.ts";
import { farmRoute } from "../../src/boots/farm.ts";
import { createBootMetrics } from "../../src/boots/boot-metrics.ts";
import { configBootsLocally } from "../../src/boots/config-intent.ts";
import { hostsSection } from "../../src/cli/status-hosts.ts";
import type { TransferRecord } from "../../src/records/transfer-record.ts";

const M = "Kickstart_end";

describe("classify", () => {
  test.each([
    ["pxelinux.0", "loader"],
    ["undionly.kpxe", "loader"],
    ["shimx64.efi", "loader"],
    ["grubx64.efi", "loader"],
    ["syslinux.efi", "loader"],
    ["ldlinux.c32", "module"],
    ["ldlinux.e64", "module"],
    ["revocations_sbat.efi", "module"],
    ["grub/x86_64-efi/command.lst", "module"],
    ["pxelinux.cfg/01-52-54-00-12-34-56", "config"],
    ["pxelinux.cfg/C0A8000B", "config"],
    ["pxelinux.cfg/default", "config"],
    ["grub/grub.cfg", "config"],
    ["grub/mac-52:54:00:12:34:56.cfg", "config"],
    ["boot.ipxe", "config"],
    ["ipxe/mac-52-54-00-12-34-56.ipxe", "config"],
    ["vmlinuz-7.2", "kernel"],
    ["debian-installer/amd64/linux", "kernel"],
    ["initrd-7.2.img", "initrd"],
    ["debian-installer/amd64/initrd.gz", "initrd"],
    ["Kickstart_end", "marker"],
    ["notes.txt", "other"],
  ])("%s is a %s", (file, kind) => {
    expect(classify(file, M)).toBe(kind as never);
  });
});

let clock = 1_000_000;
function ev(f: string, o = "ok", extra: Partial<BootEvent> = {}): BootEvent {
  clock += 100;
  return { t: clock, a: "192.168.0.11", f, k: classify(f, M), via: "tftp", o, b: 1000, s: 1000, d: 10, bs: 1408, ...extra };
}
const missing = (f: string) => ev(f, "error", { c: 1, b: 0, why: "File not found" });
const pxelinuxStart = () => [ev("pxelinux.0", "probe"), ev("pxelinux.0"), ev("ldlinux.c32"), missing("pxelinux.cfg/01-52-54-00-12-34-56"), missing("pxelinux.cfg/C0A8000B")];
const later = (ms = QUIET_GAP_MS + 1) => clock + ms;

describe("foldBoots", () => {
  test("a pxelinux boot to its kernel and initrd is booted, its steps in order", () => {
    const events = [...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz"), ev("initrd.img")];
    const [boot] = foldBoots(events, { now: clock + 1 });
    expect(boot!.verdict).toBe("booted");
    expect(boot!.steps.map((s) => s.file)).toEqual(events.map((e) => e.f));
  });

  test("the marker makes it installed; the next loader fetch starts a new boot, which goes local", () => {
    const first = [...pxelinuxStart(), ev("pxelinux.cfg/default.netboot-7.2"), ev("vmlinuz"), ev("initrd.img"), ev(M)];
    clock += 600_000;
    const second = [...pxelinuxStart(), ev("pxelinux.cfg/default")];
    const boots = foldBoots([...second, ...first], { now: later() });
    expect(boots.length).toBe(2);
    expect(boots[0]!.verdict).toBe("installed");
    expect(boots[1]!.steps[0]!.file).toBe("pxelinux.0");
    expect(boots[1]).toMatchObject({ verdict: "local-boot", detail: "config=pxelinux.cfg/default" });
  });

  test("a PXE ROM's size probe, then shim then GRUB, stay one boot", () => {
    const events = [ev("shimx64.efi", "probe"), ev("shimx64.efi"), missing("revocations_sbat.efi"), ev("grubx64.efi"), ev("grub/grub.cfg"), ev("vmlinuz"), ev("initrd.img")];
    const boots = foldBoots(events, { now: clock + 1 });
    expect(boots.length).toBe(1);
    expect(boots[0]!.verdict).toBe("booted");
  });

  test("a kernel that stops being ACKed: transfer-timeout naming the file and the block", () => {
    const events = [...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz", "timeout", { b: 1408 * 99, why: "no ACK after 6 retransmissions" })];
    const [boot] = foldBoots(events, { now: clock + 1 });
    expect(boot!.verdict).toBe("transfer-timeout");
    expect(boot!.detail).toBe("file=vmlinuz block=100");
  });

  test("a kernel missing over TFTP is file-missing, over HTTP http-404, each naming the file", () => {
    const tftp = [...pxelinuxStart(), ev("pxelinux.cfg/default"), missing("vmlinuz-9")];
    expect(foldBoots(tftp, { now: clock + 1 })[0]).toMatchObject({ verdict: "file-missing", detail: "file=vmlinuz-9" });
    clock += 10 * QUIET_GAP_MS;
    const http = [ev("undionly.kpxe"), ev("boot.ipxe"), ev("vmlinuz-9", "error", { via: "http", c: 404, b: 0 })];
    expect(foldBoots(http, { now: clock + 1 })[0]).toMatchObject({ verdict: "http-404", detail: "file=vmlinuz-9" });
  });

  test("a failure repaired later in the boot (a retry that worked) does not decide it", () => {
    const events = [...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz", "timeout", { b: 5000 }), ev("vmlinuz"), ev("initrd.img")];
    expect(foldBoots(events, { now: clock + 1 })[0]!.verdict).toBe("booted");
  });

  test("every config name missed, then silence: config-missing", () => {
    const events = [...pxelinuxStart(), missing("pxelinux.cfg/default")];
    expect(foldBoots(events, { now: clock + 1 })[0]!.verdict).toBe("in-progress");
    expect(foldBoots(events, { now: later() })[0]).toMatchObject({ verdict: "config-missing" });
  });

  test("a loader that fails, or is delivered and followed by nothing, is loader-failed", () => {
    expect(foldBoots([ev("pxelinux.0", "timeout", { b: 0 })], { now: later() })[0]!.verdict).toBe("transfer-timeout");
    clock += 10 * QUIET_GAP_MS;
    expect(foldBoots([ev("pxelinux.0", "error", { c: 2 })], { now: later() })[0]!.verdict).toBe("loader-failed");
    clock += 10 * QUIET_GAP_MS;
    expect(foldBoots([ev("pxelinux.0")], { now: later() })[0]!.verdict).toBe("loader-failed");
  });

  test("the marker fetched long after the kernel (an install takes a while) ends that boot as installed", () => {
    const boot = [...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz"), ev("initrd.img")];
    clock += 40 * 60_000;
    const boots = foldBoots([...boot, ev(M)], { now: clock + 1 });
    expect(boots.length).toBe(1);
    expect(boots[0]!.verdict).toBe("installed");
  });

  test("a quiet gap starts a new boot even without a loader", () => {
    const a = [ev("vmlinuz"), ev("initrd.img")];
    clock += QUIET_GAP_MS * 2;
    const b = [ev("vmlinuz")];
    expect(foldBoots([...a, ...b], { now: clock + 1 }).length).toBe(2);
  });
});

describe("store and recorder", () => {
  const root = mkdtempSync(join(tmpdir(), "pxeboot-boots-"));
  const record = (file: string, extra: Partial<TransferRecord> = {}): TransferRecord => ({
    direction: "read",
    clientAddress: "192.168.0.11",
    clientPort: 2070,
    requested: file,
    file,
    mode: "octet",
    options: { blksize: "1408" },
    bytes: 100,
    size: 100,
    durationMs: 3.2,
    outcome: "ok",
    retransmits: 0,
    ...extra,
  });

  test("file names: a MAC with dashes, an IPv4 as written, IPv6 colons as underscores", () => {
    expect(hostFileName("52:54:00:AA:bb:cc")).toBe("52-54-00-aa-bb-cc.jsonl");
    expect(hostFileName("192.168.0.11")).toBe("192.168.0.11.jsonl");
    expect(hostFileName("fd00::1")).toBe("fd00__1.jsonl");
  });

  test("HTTP records carry their status as the code; TFTP ones their block size", () => {
    const http = eventOf(record("vmlinuz", { mode: "http", options: { status: "404" }, outcome: "error" }), M, 5);
    expect(http).toMatchObject({ via: "http", c: 404, k: "kernel" });
    expect(eventOf(record("vmlinuz"), M, 5).bs).toBe(1408);
  });

  test("the recorder keys by the MAC the neighbour table gives, batches, and a fold reads it back", () => {
    const arp = join(root, "arp");
    writeFileSync(arp, "IP address       HW type     Flags       HW address            Mask     Device\n192.168.0.11     0x1         0x2         52:54:00:12:34:56     *        br0\n");
    let t = 2_000_000;
    const r = createBootRecorder({ root, marker: M, neighbourTable: arp, now: () => (t += 50) });
    for (const f of ["pxelinux.0", "ldlinux.c32", "pxelinux.cfg/default", "vmlinuz", "initrd.img"]) r.observe(record(f));
    r.observe({ ...record("upload.bin"), direction: "write" });
    expect(listHostKeys(root)).toEqual([]); // nothing written until the batch goes
    r.stop();
    expect(listHostKeys(root)).toEqual(["52-54-00-12-34-56"]);
    const events = readEvents(root, "52:54:00:12:34:56");
    expect(events.map((e) => e.f)).toEqual(["pxelinux.0", "ldlinux.c32", "pxelinux.cfg/default", "vmlinuz", "initrd.img"]);
    expect(foldBoots(events, { now: t + 1 })[0]!.verdict).toBe("booted");
  });

  test("a host's file stays under its cap (newest half kept, whole lines); hosts past the cap go oldest first", () => {
    ensureBootsDir(root);
    for (let i = 0; i < 2000; i++) appendEvents(root, "10.0.0.9", [ev(`file-${i}`)]);
    const file = join(root, BOOTS_DIR, "10.0.0.9.jsonl");
    expect(statSync(file).size).toBeLessThanOrEqual(HOST_FILE_MAX_BYTES);
    const kept = readEvents(root, "10.0.0.9");
    expect(kept[kept.length - 1]!.f).toBe("file-1999");
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean).length).toBe(kept.length);
    for (let i = 0; i < 5; i++) appendEvents(root, `10.0.1.${i}`, [ev("x")]);
    const before = listHostKeys(root).length;
    expect(before).toBe(7);
    expect(pruneHosts(root, 3)).toBe(4);
    expect(listHostKeys(root).length).toBe(3);
    rmSync(root, { recursive: true, force: true });
  });
});

describe("farm page", () => {
  const boot = (verdict: string, endedAt: number, file = "vmlinuz"): Boot => ({
    startedAt: endedAt - 1000,
    endedAt,
    address: "192.168.0.11",
    verdict: verdict as never,
    detail: `file=${file}`,
    steps: [{ at: endedAt - 1000, file, kind: "kernel", via: "tftp", outcome: verdict === "booted" ? "ok" : "timeout", bytes: 1, size: 1, ms: 1 }],
  });

  test("booting hosts first, then failed, then the rest, newest first", () => {
    const hosts = [
      { id: "a", last: boot("booted", 5) },
      { id: "b", last: boot("transfer-timeout", 3) },
      { id: "c", last: boot("in-progress", 1) },
      { id: "d", last: boot("booted", 9) },
    ];
    expect(farmOrder(hosts).map((h) => h.id)).toEqual(["c", "b", "d", "a"]);
  });

  test("every client-chosen string is escaped: a file or host named <script> is text", () => {
    const html = renderFarmPage({ now: 10_000, server: { "<b>": "<i>" }, hosts: [{ id: "<script>alert(1)</script>", profile: '"x"', last: boot("transfer-timeout", 5000, "<script>alert(2)</script>") }] });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("%3Cscript%3E"); // the link's path is URI-encoded
    expect(escapeHtml(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&#39;");
  });

  test("routes: the page, the host list and one host's boots; an id the store lacks is 404", () => {
    const r = mkdtempSync(join(tmpdir(), "pxeboot-farm-"));
    ensureBootsDir(r);
    appendEvents(r, "52:54:00:12:34:56", [ev("pxelinux.0"), ev("pxelinux.cfg/default"), ev("vmlinuz"), ev("initrd.img")]);
    const page = farmRoute(r, "/", () => ({ workers: 2 }), clock + 1)!;
    expect(page.type).toContain("text/html");
    expect(page.body).toContain("52-54-00-12-34-56");
    const list = JSON.parse(farmRoute(r, "/api/hosts", () => ({}), clock + 1)!.body);
    expect(list[0]).toMatchObject({ id: "52-54-00-12-34-56", verdict: "booted" });
    expect(JSON.parse(farmRoute(r, "/api/hosts/52-54-00-12-34-56/boots", () => ({}), clock + 1)!.body)[0].steps.length).toBe(4);
    expect(farmRoute(r, "/api/hosts/..%2F..%2Fetc%2Fpasswd/boots", () => ({}))!.status).toBe(404);
    expect(farmRoute(r, "/api/hosts/%E0%A4%A/boots", () => ({}))!.status).toBe(400);
    expect(farmRoute(r, "/other", () => ({}))).toBeUndefined();
    rmSync(r, { recursive: true, force: true });
  });
});

describe("boot metrics", () => {
  test("each final boot counted once by verdict; booted ones in the time histogram", () => {
    const r = mkdtempSync(join(tmpdir(), "pxeboot-bm-"));
    ensureBootsDir(r);
    appendEvents(r, "10.0.0.1", [...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz"), ev("initrd.img")]);
    appendEvents(r, "10.0.0.2", [...pxelinuxStart(), missing("vmlinuz")]);
    const m = createBootMetrics(r);
    const first = m.render(clock + 1);
    expect(first).toContain('pxeboot_boots_total{verdict="booted"} 1');
    // The missing kernel is not final until the quiet gap passes (pxelinux may retry).
    expect(first).not.toContain('verdict="file-missing"');
    const later = m.render(clock + QUIET_GAP_MS + 10);
    expect(later).toContain('pxeboot_boots_total{verdict="booted"} 1');
    expect(later).toContain('pxeboot_boots_total{verdict="file-missing"} 1');
    expect(later).toContain("pxeboot_boot_seconds_count 1");
    expect(later).toMatch(/pxeboot_boot_seconds_bucket\{le="5"\} 1/);
    rmSync(r, { recursive: true, force: true });
  });
});

describe("configs that boot the local disk", () => {
  test.each([
    ["pxelinux.cfg/default", "DEFAULT local\nPROMPT 0\nLABEL local\n  LOCALBOOT 0\n", true],
    ["pxelinux.cfg/default", "DEFAULT menu.c32\nLABEL local\n LOCALBOOT 0\nLABEL install\n KERNEL vmlinuz\n", false],
    ["pxelinux.cfg/default", "DEFAULT install\nLABEL local\n LOCALBOOT 0\nLABEL install\n KERNEL vmlinuz\n", false],
    ["pxelinux.cfg/C0A8000B", "DEFAULT install\nLABEL install\n  KERNEL vmlinuz-7.2\n  INITRD initrd-7.2.img\n", false],
    ["pxelinux.cfg/default", "DEFAULT vmlinuz initrd=initrd.img\n", false],
    ["grub/grub.cfg", "set timeout=0\nmenuentry local { exit }\n", true],
    ["grub/grub.cfg", "menuentry install {\n linux /vmlinuz\n initrd /initrd.img\n}\n", false],
    ["boot.ipxe", "#!ipxe\nexit\n", true],
    ["boot.ipxe", "#!ipxe\nkernel http://x/vmlinuz\nboot\n", false],
    ["boot.ipxe", "#!ipxe\nchain ipxe/mac-${mac:hexhyp}.ipxe || exit\n", false],
  ])("%s: %j → %p", (file, text, local) => {
    expect(configBootsLocally(file, text)).toBe(local);
  });

  test("a local-boot config served and nothing after: local-boot at once, not after the quiet gap", () => {
    const events = [...pxelinuxStart(), ev("pxelinux.cfg/default", "ok", { lb: true })];
    expect(foldBoots(events, { now: clock + 1 })[0]).toMatchObject({ verdict: "local-boot", detail: "config=pxelinux.cfg/default" });
  });
});

describe("status: hosts booting and failed", () => {
  test("booting first by recency, failed with verdict and detail, names escaped", () => {
    const now = Date.parse("2026-12-08T00:01:00Z");
    const text = hostsSection(
      [
        { id: "a", address: "10.0.0.1", verdict: "booted", detail: null, endedAt: "2026-12-08T00:00:00Z", steps: [{ file: "initrd.img" }] },
        { id: "b", address: "10.0.0.2", verdict: "in-progress", detail: null, endedAt: "2026-12-08T00:00:50Z", steps: [{ file: "vmlinuz" }] },
        { id: "c\u001b[2J", address: "10.0.0.3", verdict: "transfer-timeout", detail: "file=vmlinuz block=9", endedAt: "2026-12-08T00:00:30Z", steps: [{ file: "vmlinuz" }] },
      ],
      now,
    );
    expect(text).toContain("hosts: 3 recorded, 1 booting now, 1 whose last boot failed");
    expect(text).toMatch(/booting now:\n +b +10\.0\.0\.2 +at vmlinuz \(10 s ago\)/);
    expect(text).toMatch(/c\\x1b\[2J +10\.0\.0\.3 +transfer-timeout file=vmlinuz block=9 \(30 s ago\)/);
    expect(text).not.toContain("\u001b");
  });
});

describe("proxy offers in the records", () => {
  const offer = (f = "pxelinux.0") => ev(f, "ok", { k: "offer", via: "dhcp", a: "", b: 0, s: -1 });
  test("an offer never followed by a fetch: offered-not-fetched after a minute, naming the file", () => {
    const events = [offer(), offer()];
    expect(foldBoots(events, { now: clock + 1 })[0]!.verdict).toBe("in-progress");
    expect(foldBoots(events, { now: clock + OFFER_FETCH_MS + 1 })[0]).toMatchObject({ verdict: "offered-not-fetched", detail: "file=pxelinux.0" });
  });

  test("an offer starts a boot; the boot's address is the first one a request came from", () => {
    const first = [offer(), ...pxelinuxStart(), ev("pxelinux.cfg/default"), ev("vmlinuz"), ev("initrd.img")];
    const second = [offer(), offer(), ev("pxelinux.0")];
    const boots = foldBoots([...first, ...second], { now: clock + 1 });
    expect(boots.map((b) => b.verdict)).toEqual(["booted", "in-progress"]);
    expect(boots[0]!.address).toBe("192.168.0.11");
    expect(boots[1]!.steps.map((s) => s.kind)).toEqual(["offer", "offer", "loader"]);
  });

  test("the recorder keys offers by MAC, as the neighbour table keys the host's transfers", () => {
    const r = mkdtempSync(join(tmpdir(), "pxeboot-offer-"));
    const rec = createBootRecorder({ root: r, marker: M, neighbourTable: "/nonexistent" });
    rec.offered("52:54:00:AB:CD:EF", "pxelinux.0");
    rec.stop();
    expect(listHostKeys(r)).toEqual(["52-54-00-ab-cd-ef"]);
    expect(readEvents(r, "52:54:00:ab:cd:ef")[0]).toMatchObject({ k: "offer", via: "dhcp", f: "pxelinux.0" });
    rmSync(r, { recursive: true, force: true });
  });
});
