/** `pxeboot systemd-unit`: the unit for given serve flags, checked by systemd's own verifier. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, run, scratchRoot } from "./harness.ts";
import { testNeeding } from "../gate.ts";

const dir = scratchRoot("unit");
afterAll(() => dir.cleanup());

async function unit(...args: string[]) {
  return run([BINARY, "systemd-unit", ...args], 20_000);
}

const hasVerifier = (await run(["sh", "-c", "command -v systemd-analyze"])).code === 0;
const hasTftpUser = (await run(["id", "tftp"])).code === 0;

describe("systemd-unit", () => {
  test("the unit runs serve with the flags given, restarts always, reloads with SIGHUP, is hardened", async () => {
    const r = await unit(dir.root, "--workers", "2", "--max-transfers", "20000", "--pidfile", "/run/pxeboot/pxeboot.pid");
    expect(r.code).toBe(0);
    const u = r.stdout;
    expect(u).toContain(`ExecStart=${BINARY} serve ${dir.root} --workers 2 --max-transfers 20000 --pidfile /run/pxeboot/pxeboot.pid\n`);
    for (const line of [
      "Type=simple",
      "Restart=always",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "LimitNOFILE=65536",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      `ReadWritePaths=${dir.root} /run/pxeboot`,
      "PrivateTmp=yes",
      "ProtectHome=yes",
      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
      "WantedBy=multi-user.target",
    ])
      expect(u.split("\n")).toContain(line);
    expect(u).not.toContain("AmbientCapabilities");
    // More transfers than the default limit allows: the limit follows, per worker.
    expect((await unit(dir.root, "--max-transfers", "100000")).stdout).toContain("LimitNOFILE=101024\n");
  });

  test("--as-user runs it unprivileged with the one capability port 69 needs", async () => {
    const r = await unit(dir.root, "--as-user", "nobody");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual(expect.arrayContaining(["User=nobody", "AmbientCapabilities=CAP_NET_BIND_SERVICE"]));
    const both = await unit(dir.root, "--as-user", "nobody", "--user", "tftp");
    expect(both.code).toBe(2);
  });

  test("a literal $ or % reaches serve as written: $$ and %% (systemd knows no \\$ and expands $VAR itself)", async () => {
    const r = await unit(dir.root, "--remap", "r ^x$ y", "--on-install", 'logger "$PXEBOOT_HOST" 50%');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(` serve ${dir.root} --remap "r ^x$$ y" --on-install "logger \\"$$PXEBOOT_HOST\\" 50%%"\n`);
    expect(r.stdout).not.toContain("\\$");
  });

  test("TimeoutStopSec leaves room for --drain-timeout", async () => {
    expect((await unit(dir.root)).stdout).toContain("\nTimeoutStopSec=45\n");
    expect((await unit(dir.root, "--drain-timeout", "600")).stdout).toContain("\nTimeoutStopSec=615\n");
  });

  test("the README's switching section shows the unit systemd-unit makes from Debian's defaults file", async () => {
    const defaults = join(dir.root, "tftpd-hpa");
    const user = hasTftpUser ? "tftp" : "nobody";
    writeFileSync(defaults, `TFTP_USERNAME="${user}"\nTFTP_DIRECTORY="${dir.root}"\nTFTP_ADDRESS=":69"\nTFTP_OPTIONS="--secure"\n`);
    const r = await unit("--binary", "/usr/local/sbin/pxeboot", "--defaults-file", defaults);
    expect(r.code).toBe(0);
    const generated = r.stdout.replaceAll(defaults, "/etc/default/tftpd-hpa").replaceAll(dir.root, "/srv/tftp");
    const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Switching from tftpd-hpa"));
    const shown = /```ini\n([\s\S]*?)```/.exec(section)?.[1];
    expect(shown).toBe(generated);
  });

  test("--help lists its own options", async () => {
    const r = await unit("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--as-user=<USER> +run unprivileged/);
    expect(r.stdout).toMatch(/--binary=<PATH> +ExecStart's program/);
  });

  test("flags serve would refuse are refused here too, in one line", async () => {
    const r = await unit(dir.root, "--port", "99999");
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stdout).toBe("");
  });

  testNeeding({ present: hasVerifier, what: "systemd-analyze (Debian package systemd)" }, "systemd-analyze verify accepts it without a word", async () => {
    const units = join(dir.root, "units");
    mkdirSync(units, { recursive: true });
    for (const [name, args] of [
      ["pxeboot.service", [dir.root]],
      // systemd warns (exit 0) on an escape it does not know, such as \$.
      ["pxeboot-dollar.service", [dir.root, "--remap", "r ^x$ y", "--on-install", 'logger "$PXEBOOT_HOST" 100%']],
      // systemd warns about User=nobody (shared by unrelated daemons): a dedicated user, as tftpd-hpa's package makes.
      ...(hasTftpUser ? ([["pxeboot-user.service", [dir.root, "--as-user", "tftp", "--workers", "4"]]] as const) : []),
    ] as const) {
      const r = await unit(...args);
      writeFileSync(join(units, name), r.stdout);
      const v = await run(["systemd-analyze", "verify", join(units, name)], 30_000);
      expect([name, v.code, v.stdout + v.stderr]).toEqual([name, 0, ""]);
    }
  });

  testNeeding({ present: hasVerifier, what: "systemd-analyze (Debian package systemd)" }, "systemd-analyze security rates it 3.0 or better, as root and --as-user", async () => {
    const units = join(dir.root, "units");
    mkdirSync(units, { recursive: true });
    for (const [name, args] of [
      ["pxeboot-root.service", [dir.root]],
      ["pxeboot-nobody.service", [dir.root, "--as-user", "nobody"]],
    ] as const) {
      const r = await unit(...args);
      writeFileSync(join(units, name), r.stdout);
      const v = await run(["systemd-analyze", "security", "--offline=true", "--no-pager", join(units, name)], 30_000);
      const score = /Overall exposure level for \S+: ([\d.]+)/.exec(v.stdout + v.stderr)?.[1];
      expect([name, score !== undefined && Number(score) <= 3.0]).toEqual([name, true]);
    }
  });
});
