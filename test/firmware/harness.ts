/**
 * A private PXE network for one test: a network namespace holding a bridge (the server's side,
 * 192.168.0.1/24) and a tap (the machine's NIC), dnsmasq answering DHCP only, the TFTP server
 * under test on port 69, and QEMU machines booting from it under TCG.
 *
 * Nothing leaves the namespace: it has no route out, and every process runs inside it. Every
 * process is started by the harness and stopped by its own pid; the namespace is deleted by name
 * on close, after a failed boot as well (and at process exit, if a test was cut short).
 */
import { spawnSync, type Subprocess } from "bun";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, pxebootBinary } from "./tools.ts";
import { scratchDir } from "./payload.ts";
import { buildTree, type TreeSpec } from "./tree.ts";

export const SERVER_IP = "192.168.0.1";
export const CLIENT_IP = "192.168.0.11";
/** pxelinux's name for 192.168.0.11. */
export const CLIENT_HEX = "C0A8000B";
export const CLIENT_MAC = "52:54:00:12:34:56";

/**
 * bios: SeaBIOS + iPXE ROM; uefi: OVMF (EDK2's own PXE); uboot: 32-bit U-Boot as the machine's
 * firmware; arm64: an arm64 `virt` machine with AAVMF (EDK2 for arm64, DHCP client arch 11).
 */
export type Firmware = "bios" | "uefi" | "uboot" | "arm64";

export interface Machine {
  firmware: Firmware;
  memoryMiB?: number;
  /** BIOS only: a raw disk after the NIC in the boot order (pxelinux LOCALBOOT falls through to it). */
  disk?: string;
  /** UEFI (x64, arm64) only: the Secure Boot firmware build with Microsoft's keys enrolled, so it enforces signatures. */
  secureBoot?: boolean;
  /**
   * UEFI x86-64 only: EDK2's PXE boot options switched off (fw_cfg IPv4PXESupport and
   * IPv6PXESupport = n), so the NIC boots through UEFI HTTP Boot or not at all, as on a machine
   * whose boot order puts HTTP first.
   */
  httpBootOnly?: boolean;
}

/** Console lines that mean the boot cannot succeed any more: fail at once instead of at the timeout. */
export const ALWAYS_FAIL_ON: RegExp[] = [/Loading \S+\s*\.\.\.\s*failed/, /Kernel panic/, /No bootable device/];

export interface BootSpec {
  /** Names the serial log file and the failure message. */
  name: string;
  machine: Machine;
  /** All of these must appear on the serial console for the boot to pass. */
  expect: (string | RegExp)[];
  /** Any of these on the console fails the boot at once (besides ALWAYS_FAIL_ON). */
  failOn?: (string | RegExp)[];
  timeoutMs: number;
}

export interface BootResult {
  serial: string;
  elapsedMs: number;
  /** QEMU's exit status, null if the harness had to kill it after the markers appeared. */
  exitCode: number | null;
}

/** Which TFTP server the lab runs: the compiled pxeboot, or dnsmasq's TFTP as a stand-in for harness work. */
export type ServerKind = "pxeboot" | "dnsmasq";

export function serverKind(): ServerKind {
  return process.env.PXEBOOT_FIRMWARE_SERVER === "dnsmasq" ? "dnsmasq" : "pxeboot";
}

export interface LabOptions {
  root: string;
  /** DHCP boot file for BIOS clients (option 93 arch 0), UEFI x86-64 (arch 7 and 9) and UEFI arm64 (arch 11, default shimaa64.efi). */
  bootFile: { bios: string; uefi: string; arm64?: string };
  /** Extra arguments for `pxeboot serve` (e.g. install-once flags). */
  serverArgs?: string[];
  /** MTU of the bridge and the tap (default: the kernel's 1500), for links narrower than Ethernet. */
  mtu?: number;
  /**
   * UEFI HTTP Boot: firmware asking with vendor class "HTTPClient" gets this URL as its boot file
   * (and the class named back, without which EDK2 ignores the offer); iPXE and PXE clients as before.
   */
  httpBootUrl?: string;
  /**
   * The site's DHCP server knows nothing of PXE (dnsmasq with only --dhcp-range: no boot file,
   * no option 60, no iPXE options); pxeboot answers the PXE clients with `serve --proxy-dhcp br0`
   * and these extra flags. `bootFile` and `httpBootUrl` are then unused.
   */
  proxyDhcp?: string[];
  /** With proxyDhcp: more dnsmasq options for the site server (the 4011-only arrangement's option 60). */
  siteDhcpExtra?: string[];
  /**
   * A dnsmasq configuration (the snippet `pxeboot init` prints) that decides the boot files
   * instead of `bootFile`: the lab's dnsmasq then runs it as its config file.
   */
  dnsmasqSnippet?: string;
}

export class BootFailure extends Error {}

interface Running {
  proc: Subprocess;
  label: string;
}

const openLabs = new Set<Lab>();
let signalsHooked = false;

/** bun test emits no "exit" event, so a lab left open by an interrupted run is closed on the signal. */
function closeLabsOnSignal(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const lab of openLabs) lab.closeSync();
      process.exit(130);
    });
  }
}

function run(argv: string[]): string {
  const r = spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a console may stay unchanged, with no DHCP or TFTP request made, before the one power cycle. */
const FIRMWARE_STALL_MS = 45_000;

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, "latin1") : "";
}

/** Console text without terminal escapes and carriage returns, so markers match plainly. */
export function plainConsole(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\x1b[()][A-Z0-9]|\x1bc/g, "").replace(/[\r\b]/g, "");
}

export function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

function matches(text: string, m: string | RegExp): boolean {
  return typeof m === "string" ? text.includes(m) : m.test(text);
}

export class Lab {
  readonly ns = `pxe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly dir = scratchDir("pxeboot-lab-");
  readonly serverLogPath = join(this.dir, "server.log");
  readonly dhcpLogPath = join(this.dir, "dnsmasq.log");
  private procs: Running[] = [];
  private nsCreated = false;
  /** Set when a boot failed: the lab's files are kept for a look. */
  failed = false;
  private bootCount = 0;

  private constructor(readonly opts: LabOptions) {}

  static async open(opts: LabOptions): Promise<Lab> {
    closeLabsOnSignal();
    const lab = new Lab(opts);
    openLabs.add(lab);
    try {
      lab.makeNetwork();
      lab.startCapture();
      await lab.startDhcp();
      await lab.startServer();
    } catch (e) {
      lab.failed = true;
      const detail = `${(e as Error).message}\n--- server log ---\n${tail(lab.serverLog(), 40)}\n--- dnsmasq log ---\n${tail(readText(lab.dhcpLogPath), 20)}`;
      await lab.close();
      throw new Error(detail);
    }
    return lab;
  }

  private ipNs(...args: string[]): void {
    run([HOST.ip, "-n", this.ns, ...args]);
  }

  /**
   * Runs a short command inside the lab's network as if from the machine's address (added to the
   * namespace's loopback for the command's duration): what an installer would send, without the
   * machine. The machine must be off (the address is the machine's).
   */
  fromClient(argv: (clientIp: string) => string[]): string {
    this.ipNs("addr", "add", `${CLIENT_IP}/32`, "dev", "lo");
    try {
      return run([HOST.ip, "netns", "exec", this.ns, ...argv(CLIENT_IP)]);
    } finally {
      this.ipNs("addr", "del", `${CLIENT_IP}/32`, "dev", "lo");
    }
  }

  private makeNetwork(): void {
    run([HOST.ip, "netns", "add", this.ns]);
    this.nsCreated = true;
    this.ipNs("link", "set", "lo", "up");
    this.ipNs("link", "add", "br0", "type", "bridge");
    this.ipNs("tuntap", "add", "tap0", "mode", "tap");
    this.ipNs("link", "set", "tap0", "master", "br0");
    this.ipNs("addr", "add", `${SERVER_IP}/24`, "dev", "br0");
    // A ULA prefix lets dnsmasq answer iPXE's router solicitations at once (no ~13 s IPv6 wait).
    this.ipNs("addr", "add", "fd00:5e::1/64", "dev", "br0", "nodad");
    if (this.opts.mtu) {
      this.ipNs("link", "set", "tap0", "mtu", String(this.opts.mtu));
      this.ipNs("link", "set", "br0", "mtu", String(this.opts.mtu));
    }
    this.ipNs("link", "set", "br0", "up");
    this.ipNs("link", "set", "tap0", "up");
  }

  /**
   * PXEBOOT_FIRMWARE_PCAP=1 records the TFTP traffic on the bridge to capture.pcap in the lab
   * directory (kept): what each firmware really asked for. Needs tcpdump; not used in CI.
   */
  private startCapture(): void {
    if (process.env.PXEBOOT_FIRMWARE_PCAP !== "1") return;
    process.env.PXEBOOT_FIRMWARE_KEEP = "1";
    const pcap = join(this.dir, "capture.pcap");
    this.spawnInNs("tcpdump", ["tcpdump", "-i", "br0", "-n", "-s", "200", "-w", pcap, "udp and not port 67 and not port 68"], join(this.dir, "tcpdump.out"));
  }

  private spawnInNs(label: string, argv: string[], logPath: string): Subprocess {
    // One append-mode descriptor for both streams, so stdout and stderr interleave instead of overwriting.
    const fd = openSync(logPath, "a");
    try {
      const proc = Bun.spawn([HOST.ip, "netns", "exec", this.ns, ...argv], { stdin: "ignore", stdout: fd, stderr: fd });
      this.procs.push({ proc, label });
      return proc;
    } finally {
      closeSync(fd);
    }
  }

  private async waitFor(what: string, proc: Subprocess, ready: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (proc.exitCode !== null) throw new Error(`${what} exited ${proc.exitCode} before it was ready`);
      if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  private udpBound(port: number): boolean {
    const r = spawnSync([HOST.ip, "netns", "exec", this.ns, HOST.ss, "-Hlun", `sport = :${port}`], { stdout: "pipe" });
    return r.stdout.toString().trim().length > 0;
  }

  /** dnsmasq's command line as started (a proxy DHCP test checks it offers no boot options). */
  dhcpArgv: string[] = [];

  private async startDhcp(): Promise<void> {
    const { bios, uefi, arm64 = "shimaa64.efi" } = this.opts.bootFile;
    const snippet = join(this.dir, "dnsmasq-snippet.conf");
    if (this.opts.dnsmasqSnippet !== undefined) writeFileSync(snippet, this.opts.dnsmasqSnippet);
    const site = [
      HOST.dnsmasq,
      "--keep-in-foreground",
      `--conf-file=${this.opts.dnsmasqSnippet !== undefined ? snippet : "/dev/null"}`,
      "--no-hosts",
      "--no-resolv",
      "--port=0", // no DNS, and no TFTP: port 69 belongs to the server under test
      "--interface=br0",
      // Binds 67 on br0 only (SO_BINDTODEVICE), which lets the proxy's SO_REUSEPORT socket bind beside it.
      "--bind-interfaces",
      `--log-facility=${this.dhcpLogPath}`,
      "--log-dhcp",
      `--dhcp-leasefile=${join(this.dir, "leases")}`,
      `--pid-file=${join(this.dir, "dnsmasq.pid")}`,
      "--dhcp-range=192.168.0.100,192.168.0.200,255.255.255.0,1h",
      `--dhcp-host=${CLIENT_MAC},${CLIENT_IP}`,
      // A ULA router advert: iPXE configures IPv6 at once instead of waiting ~13 s for one.
      "--enable-ra",
      "--dhcp-range=::,constructor:br0,ra-only",
    ];
    const bootFiles =
      this.opts.dnsmasqSnippet !== undefined
        ? []
        : [
            // Option 93: 7 and 9 are x86-64 UEFI, 11 arm64 UEFI; everything else gets the BIOS boot file.
            "--dhcp-match=set:efi64,option:client-arch,7",
            "--dhcp-match=set:efi64,option:client-arch,9",
            "--dhcp-match=set:efiarm64,option:client-arch,11",
            ...(this.opts.httpBootUrl
              ? [
                  "--dhcp-vendorclass=set:httpboot,HTTPClient",
                  "--dhcp-option-force=tag:httpboot,60,HTTPClient",
                  `--dhcp-boot=tag:httpboot,${this.opts.httpBootUrl}`,
                ]
              : []),
            `--dhcp-boot=tag:efi64,tag:!httpboot,${uefi},,${SERVER_IP}`,
            `--dhcp-boot=tag:efiarm64,tag:!httpboot,${arm64},,${SERVER_IP}`,
            `--dhcp-boot=tag:!efi64,tag:!efiarm64,tag:!httpboot,${bios},,${SERVER_IP}`,
          ];
    this.dhcpArgv = this.opts.proxyDhcp
      ? [...site, ...(this.opts.siteDhcpExtra ?? [])]
      : [
          ...site,
          ...bootFiles,
          // iPXE's no-pxedhcp: don't wait for ProxyDHCP offers.
          "--dhcp-option=encap:175,176,1b",
        ];
    const proc = this.spawnInNs("dnsmasq", this.dhcpArgv, join(this.dir, "dnsmasq.out"));
    await this.waitFor("dnsmasq", proc, () => this.udpBound(67), 10_000);
  }

  private serverArgv(): string[] {
    if (serverKind() === "dnsmasq") {
      return [
        HOST.dnsmasq,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",
        `--listen-address=${SERVER_IP}`,
        "--bind-interfaces",
        "--enable-tftp",
        `--tftp-root=${this.opts.root}`,
        "--log-facility=-",
        `--pid-file=${join(this.dir, "tftp.pid")}`,
      ];
    }
    return [
      pxebootBinary(),
      "serve",
      "--root",
      this.opts.root,
      "--address",
      SERVER_IP,
      "--port",
      "69",
      "--log-format",
      "json",
      "--verbose",
      ...(this.opts.proxyDhcp ? ["--proxy-dhcp", "br0", ...this.opts.proxyDhcp] : []),
      ...(this.opts.serverArgs ?? []),
    ];
  }

  private async startServer(): Promise<void> {
    const proc = this.spawnInNs("server", this.serverArgv(), this.serverLogPath);
    await this.waitFor("TFTP server", proc, () => this.udpBound(69), 15_000);
  }

  serverLog(): string {
    return readText(this.serverLogPath);
  }

  /** Stops the server (SIGTERM: it drains) and starts it again with the same command line; its log goes on in the same file. */
  async restartServer(): Promise<void> {
    const server = this.procs.find((r) => r.label === "server" && r.proc.exitCode === null);
    if (server) await this.stop(server.proc);
    this.procs = this.procs.filter((r) => r !== server);
    await this.startServer();
  }

  private machineArgv(m: Machine, serialPath: string, bootDir: string): string[] {
    const common = [
      m.firmware === "arm64" ? HOST.qemuArm64 : HOST.qemu,
      "-accel",
      "tcg",
      "-m",
      String(m.memoryMiB ?? 256),
      "-smp",
      "1",
      // -nographic also turns on SeaBIOS's serial console, so the BIOS and iPXE lines reach the log.
      "-nographic",
      "-monitor",
      "none",
      "-serial",
      `file:${serialPath}`,
      "-no-reboot",
      "-netdev",
      "tap,id=n0,ifname=tap0,script=no,downscript=no",
    ];
    if (m.firmware === "arm64") {
      const vars = join(bootDir, "AAVMF_VARS.fd");
      copyFileSync(m.secureBoot ? HOST.aavmfMsVars : HOST.aavmfVars, vars);
      return [
        ...common,
        "-machine",
        "virt",
        "-cpu",
        "cortex-a72",
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${m.secureBoot ? HOST.aavmfMsCode : HOST.aavmfCode}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${vars}`,
        // No option ROM: AAVMF's own virtio-net driver and PXE client do the boot.
        "-device",
        `virtio-net-pci,netdev=n0,mac=${CLIENT_MAC},romfile=,bootindex=1`,
      ];
    }
    if (m.firmware === "uefi") {
      const vars = join(bootDir, "OVMF_VARS.fd");
      copyFileSync(m.secureBoot ? HOST.ovmfMsVars : HOST.ovmfVars, vars);
      // The Secure Boot build keeps its variables behind SMM: the flash must be secure-only.
      const secure = m.secureBoot ? ["-global", "driver=cfi.pflash01,property=secure,value=on"] : [];
      return [
        ...common,
        "-machine",
        m.secureBoot ? "q35,smm=on" : "q35",
        ...secure,
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${m.secureBoot ? HOST.ovmfSecbootCode : HOST.ovmfCode}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${vars}`,
        ...(m.httpBootOnly
          ? ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"]
          : []),
        // Empty romfile: QEMU's iPXE EFI ROM would otherwise take over and EDK2's TFTP client never runs.
        "-device",
        `virtio-net-pci,netdev=n0,mac=${CLIENT_MAC},romfile=,bootindex=1`,
      ];
    }
    if (m.firmware === "uboot") {
      return [
        ...common,
        "-machine",
        "pc",
        "-bios",
        HOST.ubootRom,
        // 32-bit U-Boot as firmware of a 64-bit machine: qemu-system-i386 has no long mode for the kernel.
        // e1000 (U-Boot reads a wrong MAC from legacy virtio); no option ROM, U-Boot has its own driver.
        "-device",
        `e1000,netdev=n0,mac=${CLIENT_MAC},romfile=`,
      ];
    }
    const disk = m.disk
      ? ["-drive", `file=${m.disk},format=raw,if=none,id=d0,snapshot=on`, "-device", "ide-hd,drive=d0,bootindex=2"]
      : [];
    return [
      ...common,
      "-machine",
      "pc",
      "-device",
      `e1000,netdev=n0,mac=${CLIENT_MAC},romfile=${HOST.ipxeRom},bootindex=1`,
      ...disk,
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ];
  }

  /**
   * Power on a machine and watch its serial console until every expected marker has appeared,
   * a failure marker appears, QEMU exits, or the time runs out. Throws BootFailure with the
   * console tail and the server log on anything but success.
   */
  async boot(spec: BootSpec): Promise<BootResult> {
    const n = ++this.bootCount;
    const bootDir = join(this.dir, `boot-${n}-${spec.name}`);
    mkdirSync(bootDir, { recursive: true });
    const serialPath = join(bootDir, "serial.log");
    const started = Date.now();
    let deadlineFrom = started;
    const spawn = () => this.spawnInNs(`qemu ${spec.name}`, this.machineArgv(spec.machine, serialPath, bootDir), join(bootDir, "qemu.out"));
    let proc = spawn();
    const console = () => plainConsole(readText(serialPath));
    // Under TCG on a loaded CI host the emulated firmware itself has been seen to hang before its
    // first network packet (U-Boot, once, after "Loading Environment"). Nothing in that run asked
    // the server or the DHCP server anything, so it says nothing about pxeboot: power-cycle once,
    // loudly. A stall after the first DHCP packet is a failure like any other.
    // dnsmasq logs router adverts on its own and the server logs its start-up: count requests only.
    const requests = () => (readText(this.dhcpLogPath).match(/DHCP(DISCOVER|REQUEST|INFORM)/g)?.length ?? 0) + (this.serverLog().match(/"file":/g)?.length ?? 0);
    const requestsAtStart = requests();
    let lastText = "";
    let lastChange = Date.now();
    let powerCycled = false;
    let why = "";
    for (;;) {
      const text = console();
      if (text !== lastText) {
        lastText = text;
        lastChange = Date.now();
      }
      if (!powerCycled && Date.now() - lastChange > FIRMWARE_STALL_MS && requests() === requestsAtStart) {
        powerCycled = true;
        process.stderr.write(`firmware lab: "${spec.name}" stalled ${FIRMWARE_STALL_MS} ms before any network request; power-cycling it once\n`);
        await this.stop(proc);
        this.procs = this.procs.filter((r) => r.proc !== proc);
        writeFileSync(serialPath, "");
        lastText = "";
        lastChange = Date.now();
        deadlineFrom = Date.now();
        proc = spawn();
        continue;
      }
      const bad = [...ALWAYS_FAIL_ON, ...(spec.failOn ?? [])].find((m) => matches(text, m));
      if (bad) {
        why = `failure marker ${bad} on the console`;
        break;
      }
      if (spec.expect.every((m) => matches(text, m))) break;
      if (proc.exitCode !== null) {
        why = `QEMU exited (${proc.exitCode}) before every marker appeared`;
        break;
      }
      if (Date.now() - deadlineFrom > spec.timeoutMs) {
        why = `no success after ${spec.timeoutMs} ms`;
        break;
      }
      await sleep(200);
    }
    // The machine powers itself off after its last marker; give it a moment, then stop it by pid.
    const exitCode = await Promise.race([proc.exited, sleep(why ? 0 : 5_000).then(() => null)]);
    if (proc.exitCode === null) await this.stop(proc);
    this.procs = this.procs.filter((r) => r.proc !== proc);
    const elapsedMs = Date.now() - started;
    const serial = console();
    if (why) {
      this.failed = true;
      const missing = spec.expect.filter((m) => !matches(serial, m)).map(String);
      throw new BootFailure(
        [
          `boot "${spec.name}" (${spec.machine.firmware}) failed after ${elapsedMs} ms: ${why}`,
          missing.length ? `missing markers: ${missing.join(", ")}` : "",
          `--- serial console (last 40 lines of ${serialPath}) ---`,
          tail(serial, 40),
          `--- server log (last 60 lines) ---`,
          tail(this.serverLog(), 60),
          `--- dnsmasq (last 15 lines) ---`,
          tail(readText(this.dhcpLogPath), 15),
          `(lab files kept in ${this.dir})`,
        ]
          .filter(Boolean)
          .join("\n"),
      );
    }
    return { serial, elapsedMs, exitCode };
  }

  private async stop(proc: Subprocess): Promise<void> {
    if (proc.exitCode !== null) return;
    proc.kill("SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), sleep(3_000).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }

  async close(): Promise<void> {
    for (const r of this.procs.reverse()) await this.stop(r.proc);
    this.procs = [];
    this.closeSync();
  }

  /** Last-resort cleanup that works inside an exit handler: signal by pid, delete the namespace. */
  closeSync(): void {
    for (const r of this.procs) if (r.proc.exitCode === null) r.proc.kill("SIGKILL");
    this.procs = [];
    if (this.nsCreated) {
      spawnSync([HOST.ip, "netns", "del", this.ns]);
      this.nsCreated = false;
    }
    if (!this.failed && !process.env.PXEBOOT_FIRMWARE_KEEP) rmSync(this.dir, { recursive: true, force: true });
    openLabs.delete(this);
  }
}

/** Build the tree, open a lab on it, run the test body, and take it all down again. */
export async function withLab<T>(tree: TreeSpec, opts: Omit<LabOptions, "root">, body: (lab: Lab) => Promise<T>): Promise<T> {
  const root = buildTree(tree);
  let lab: Lab | undefined;
  try {
    lab = await Lab.open({ ...opts, root });
    return await body(lab);
  } finally {
    await lab?.close();
    if (lab && !lab.failed && !process.env.PXEBOOT_FIRMWARE_KEEP) rmSync(root, { recursive: true, force: true });
  }
}
