/** `pxeboot doctor [ROOT]`: check a tftproot; one line per finding with its fix, exit 1 on problems. */
import { defineCommand } from "citty";
import { checkTree, formatFindings, type Finding } from "../layout/doctor.ts";
import { PROBE_ARCHES, judgeResponders, type ProbeArch, type ProbeFinding } from "../dhcp/probe.ts";
import { probeSegment } from "../dhcp/probe-socket.ts";
import { fail, guarded } from "./args.ts";
import { lookupUser } from "../daemon/privileges.ts";
import { DEFAULT_ROOT } from "../config/schema.ts";

const ARCH_NAMES = Object.keys(PROBE_ARCHES) as ProbeArch[];

/** The segment's DHCP and PXE responders, each a line: "seen" for a server that answered, then what they mean. */
async function segmentLines(iface: string, arch: string, waitSeconds: string): Promise<{ lines: string[]; findings: ProbeFinding[] }> {
  if (!ARCH_NAMES.includes(arch as ProbeArch)) fail(`--dhcp-arch must be one of ${ARCH_NAMES.join(", ")}, not '${arch}'`);
  const wait = Number(waitSeconds);
  if (!Number.isFinite(wait) || wait < 1 || wait > 60) fail(`--dhcp-wait must be 1-60 seconds, not '${waitSeconds}'`);
  const result = await probeSegment(iface, arch as ProbeArch, wait * 1000);
  const where = `dhcp on ${iface}${result.address ? ` (${result.address})` : ""}`;
  const findings = judgeResponders(result.responders, result.address ? [result.address] : []);
  const lines = findings.map((f) => (f.severity === "ok" ? `seen: ${where}: ${f.message}` : `${f.severity}: ${where}: ${f.message} — fix: ${f.fix}`));
  return { lines, findings };
}

export default guarded(
  "doctor",
  defineCommand({
    meta: { name: "doctor", description: "Check a PXE tftproot (loaders, links, hex names, kernels, big files) and, with --dhcp, who answers PXE clients on a segment" },
    args: {
      root: { type: "positional", description: "The tftproot to check", required: false, default: DEFAULT_ROOT },
      user: { type: "string", description: "The user serve serves clients as (serve --user): it must not own boot control", valueHint: "NAME" },
      dhcp: {
        type: "string",
        description: "Also send one PXE DHCPDISCOVER out of this interface (as root) and report every DHCP and PXE server that answers: a second boot server races this one",
        valueHint: "IFACE",
      },
      "dhcp-arch": { type: "string", description: `The firmware the probe poses as: ${ARCH_NAMES.join(", ")}`, default: "bios", valueHint: "ARCH" },
      "dhcp-wait": { type: "string", description: "Seconds to collect answers (EDK2 waits about 4; dnsmasq pings an address up to 3 s before it offers it)", default: "5", valueHint: "SECONDS" },
    },
    async run({ args }) {
      const user = args.user === undefined ? undefined : lookupUser(args.user);
      const findings: Finding[] = checkTree(args.root, { user, uid: process.getuid?.() });
      const segment = args.dhcp === undefined ? { lines: [], findings: [] } : await segmentLines(args.dhcp, args["dhcp-arch"], args["dhcp-wait"]);
      const severities = [...findings.map((f) => f.severity), ...segment.findings.map((f) => f.severity)];
      const problems = severities.filter((s) => s === "problem").length;
      const warnings = severities.filter((s) => s === "warning").length;
      const summary = `${args.root}${args.dhcp ? ` and ${args.dhcp}` : ""}: ${problems} problem(s), ${warnings} warning(s)`;
      process.stdout.write([...formatFindings(findings), ...segment.lines, summary].join("\n") + "\n");
      if (problems > 0) process.exitCode = 1;
    },
  }),
);
