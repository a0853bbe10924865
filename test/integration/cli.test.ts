/** The executable as a sysadmin meets it: --version, --help, and one-line errors for bad input. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, RawPeer, run, scratchRoot, startServer } from "./harness.ts";

const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8"));

describe("pxeboot CLI", () => {
  test("--version prints the package version", async () => {
    const r = await run([BINARY, "--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  test("-V and version print the version too", async () => {
    for (const args of [["-V"], ["version"]]) {
      const r = await run([BINARY, ...args]);
      expect([args[0], r.code, r.stdout.trim()]).toEqual([args[0], 0, pkg.version]);
    }
  });

  test("help piped or under NO_COLOR has no colour escapes; nested usage names the whole command", async () => {
    const piped = await run([BINARY, "host", "add", "--help"]);
    expect(piped.stdout).not.toContain("\x1b");
    expect(piped.stdout).toContain("USAGE pxeboot host add");
    const noColor = await run(["env", "NO_COLOR=true", BINARY, "config", "check", "--help"]);
    expect(noColor.stdout).not.toContain("\x1b");
    expect(noColor.stdout).toContain("pxeboot config check");
  });

  test("every usage line names its command once, with the version", async () => {
    for (const words of [["config"], ["config", "check"], ["host"], ["host", "add"], ["serve"], ["systemd-unit"]]) {
      const r = await run([BINARY, ...words, "--help"]);
      expect(r.stdout).toContain(`USAGE pxeboot ${words.join(" ")}`);
      expect(r.stdout).toContain(`(pxeboot ${words.join(" ")} v`);
      expect(r.stdout).not.toContain("pxeboot pxeboot");
    }
  });

  test("serve --help and in.tftpd --help say what --on-install's command finds in its environment", async () => {
    for (const cmd of ["serve", "in.tftpd"]) {
      const r = await run([BINARY, cmd, "--help"]);
      for (const name of ["PXEBOOT_HOST", "PXEBOOT_MAC", "PXEBOOT_PROFILE", "PXEBOOT_TIME", "PXEBOOT_REMOVED", "PXEBOOT_FILE", "PXEBOOT_ROOT"])
        expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    }
  });

  test("get -o into a missing directory says so in words", async () => {
    const r = await run([BINARY, "get", "tftp://127.0.0.1:9/x", "-o", "/nonexistent/dir/file"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("pxeboot: -o /nonexistent/dir/file: the directory /nonexistent/dir does not exist: create it, or write elsewhere");
  });

  test("serve --help lists every flag", async () => {
    const r = await run([BINARY, "serve", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--root", "--address", "--port", "--max-transfers", "--timeout", "--retries", "--blksize-max", "--windowsize-max", "--rollover", "--log-format", "--verbose", "--quiet"])
      expect(r.stdout).toContain(flag);
  });

  test.each([
    [["serve", "--bogus"], /unknown option --bogus/],
    [["serve", "--port", "70000"], /--port must be from 0 to 65535/],
    [["serve", "--port", "abc"], /--port needs a whole number/],
    [["serve", "--rollover", "2"], /--rollover must be from 0 to 1/],
    [["serve", "--blksize-max", "4"], /--blksize-max must be from 8 to 65464/],
    [["serve", "--address", "not-an-ip"], /--address needs IP addresses/],
    [["serve", "a", "b"], /unexpected argument 'b'/],
    // Caught by citty itself: still one line and exit 2, naming the command.
    [["init"], /^pxeboot init: Missing required positional argument: DIR \(see pxeboot init --help\)/],
    [["host", "add", "10.0.0.1"], /^pxeboot host add: Missing required positional argument: PROFILE/],
    [["serve", "--log-format", "xml"], /--log-format must be pretty or json, got 'xml'/],
    [["frobnicate"], /Unknown command frobnicate/],
    [[], /which command\?/],
  ])("%p fails with one line and exit 2", async (args, message) => {
    const r = await run([BINARY, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n").length).toBe(1);
  });

  test("a missing root is a clear error, exit 1", async () => {
    const r = await run([BINARY, "serve", "--root", "/nonexistent/tftp", "--port", "0", "--address", "127.0.0.1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/nonexistent/tftp");
    expect(r.stderr.trim().split("\n").length).toBe(1);
  });

  test("a port already in use is a clear error", async () => {
    const { root, cleanup } = scratchRoot("cli");
    const s = await startServer(root);
    try {
      const r = await run([BINARY, "serve", "--root", root, "--port", String(s.port), "--address", "127.0.0.1"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("already in use");
    } finally {
      await s.stop();
      cleanup();
    }
  });

  test("an --address that is not this host's is named, not a raw bind EADDRNOTAVAIL", async () => {
    const { root, cleanup } = scratchRoot("cli");
    try {
      // 192.0.2.0/24 is TEST-NET-1: never an address of a real host.
      const r = await run([BINARY, "serve", "--root", root, "--port", "0", "--address", "192.0.2.7"]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringContaining("192.0.2.7 is not an address of this host")]);
      expect(r.stderr).not.toContain("bind EADDRNOTAVAIL");
    } finally {
      cleanup();
    }
  });

  test("SIGTERM stops the server cleanly with exit 0", async () => {
    const { root, cleanup } = scratchRoot("cli");
    const s = await startServer(root);
    expect(await s.stop()).toBe(0);
    expect(s.log()).toContain("stopping");
    cleanup();
  });

  test("--workers 2: one host's requests from many ports all meet one worker, so --per-client-max 1 holds", async () => {
    const { root, cleanup } = scratchRoot("cli");
    await Bun.write(join(root, "big"), "x".repeat(1_000_000));
    const s = await startServer(root, ["--workers", "2", "--per-client-max", "1", "-v"]);
    const peers: RawPeer[] = [];
    try {
      await s.waitForLog(/worker serving/);
      // Six transfers asked at once from one host, none acknowledged: each stays open.
      for (let i = 0; i < 6; i++) peers.push(await RawPeer.open("127.0.0.77"));
      for (const p of peers) p.send(encodeRequest(Opcode.RRQ, "big", "octet"), s.port);
      const answered = (await Promise.all(peers.map((p) => p.recv(1500)))).filter((d) => d !== undefined);
      expect(answered.length).toBe(1);
      // Another host is not held back by the first one's limit.
      const other = await RawPeer.open("127.0.0.78");
      peers.push(other);
      other.send(encodeRequest(Opcode.RRQ, "big", "octet"), s.port);
      expect(await other.recv(1500)).toBeDefined();
    } finally {
      for (const p of peers) p.close();
      expect(await s.stop()).toBe(0);
      cleanup();
    }
  }, 30_000);

  test("--workers 2: two processes share the port, both serve, SIGTERM stops both", async () => {
    const { root, cleanup } = scratchRoot("cli");
    await Bun.write(join(root, "f"), "x".repeat(5000));
    const s = await startServer(root, ["--workers", "2"]);
    try {
      const results = await Promise.all(
        Array.from({ length: 24 }, () => run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", `tftp://127.0.0.1:${s.port}/f`])),
      );
      expect(results.map((r) => r.stdout)).toEqual(Array(24).fill("5000"));
      // The second worker starts once the first has bound the port: give it a moment.
      let pids: string[] = [];
      for (let i = 0; i < 30 && pids.length < (process.getuid?.() === 0 ? 3 : 2); i++, await Bun.sleep(100))
        pids = (await run(["pgrep", "-f", "--", `--port ${s.port} --workers 2`])).stdout.trim().split("\n").filter(Boolean);
      // Started as root, the boot-control process (daemon/switch-process.ts) runs beside the two.
      expect(pids.length).toBe(process.getuid?.() === 0 ? 3 : 2);
    } finally {
      expect(await s.stop()).toBe(0);
      cleanup();
    }
    await Bun.sleep(300);
    expect((await run(["pgrep", "-f", "--", `--port ${s.port} --workers 2`])).stdout.trim()).toBe("");
  }, 30_000);
});
