/**
 * SIGHUP compares every setting: one server started from a TOML file, each setting changed in
 * that file in turn, and after each SIGHUP the log names the setting either as applied
 * (`changed=…`) or as waiting for a restart (`keys=…`), never not at all. The table must hold a
 * row for every serve setting a file may set, so a new one cannot be left out.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serveArgs } from "../../src/cli/serve-config.ts";
import { RESTART, type Name } from "../../src/config/schema.ts";
import { BINARY, eventually, scratchRoot, startWith } from "./harness.ts";

const { root, cleanup } = scratchRoot("reload-every");
afterAll(cleanup);
const dir = `${root}-files`;
mkdirSync(join(dir, "other-root"), { recursive: true });
afterAll(() => Bun.spawnSync(["rm", "-rf", dir]));
const quirks = join(dir, "quirks.toml");
writeFileSync(quirks, '[[client]]\nmatch = "10.9.0.0/16"\nblksize-max = 1024\n');
const mapFile = join(dir, "later.rules");
writeFileSync(mapFile, "r ^x y\n");
const defaults = join(dir, "tftpd-hpa");
writeFileSync(defaults, 'TFTP_OPTIONS="--secure"\n');

/** For each setting, a TOML value other than the one it starts with, and whether it applies live. */
const ROWS: [string, string, "applied" | "restart"][] = [
  ["root", `"${join(dir, "other-root")}"`, "restart"],
  ["address", '"0.0.0.0"', "restart"],
  ["port", "1069", "restart"],
  ["max-transfers", "500", "restart"],
  ["per-client-max", "10", "applied"],
  ["per-client-rate", "50", "applied"],
  ["queue-max", "100", "restart"],
  ["timeout", "2", "applied"],
  ["retries", "3", "applied"],
  ["blksize-max", "1024", "applied"],
  ["quirks", `"${quirks}"`, "applied"],
  ["quirk-memory", "60", "applied"],
  ["windowsize-max", "8", "applied"],
  ["rollover", "1", "applied"],
  ["cache-mb", "8", "restart"],
  ["rcvbuf-mb", "4", "restart"],
  ["log-format", '"json"', "restart"],
  ["verbose", "true", "restart"],
  ["quiet", "true", "restart"],
  ["install-marker", '"Install_done"', "restart"],
  ["install-once", "false", "restart"],
  ["on-install", '"true"', "restart"],
  ["workers", "2", "restart"],
  ["user", '"nobody"', "restart"],
  ["group", '"nogroup"', "restart"],
  ["allow", '["127.0.0.0/8"]', "applied"],
  ["deny", '["10.0.0.1"]', "applied"],
  ["permissive", "true", "applied"],
  ["create", "true", "restart"],
  // These shape uploads, which must be on for them: create changes with them (named too).
  ["writable", '["up"]\ncreate = true', "restart"],
  ["overwrite", 'true\ncreate = true', "restart"],
  ["upload-max-mb", '5\ncreate = true', "restart"],
  ["port-range", '"61000:61010"', "restart"],
  ["map-file", `"${mapFile}"`, "applied"],
  ["remap", '["r ^a b"]', "applied"],
  ["strip-prefix", '"/tftp"', "applied"],
  ["refuse", '["tsize"]', "applied"],
  // With an address given, the family flags only add a deny rule for the other family.
  ["ipv4", "true", "applied"],
  ["ipv6", "false", "applied"],
  ["drain-timeout", "5", "restart"],
  ["pidfile", `"${join(dir, "pxeboot.pid")}"`, "restart"],
  ["umask", '"027"', "restart"],
  ["defaults-file", `"${defaults}"`, "applied"],
  ["metrics", '"127.0.0.1:9999"', "restart"],
  ["metrics-allow", '["127.0.0.1"]', "restart"],
  ["http", '"127.0.0.1:8089"', "restart"],
  // The proxy DHCP's sockets are bound before the privilege drop: every change waits for a restart.
  ["proxy-dhcp", '"lo"', "restart"],
  ["proxy-dhcp-known-only", 'true\nproxy-dhcp = "lo"', "restart"],
  ["proxy-dhcp-4011-only", 'true\nproxy-dhcp = "lo"', "restart"],
];

describe("SIGHUP names every changed setting, applied or waiting for a restart", () => {
  test("the table has a row for every setting a config file may set", () => {
    const fileKeys = Object.entries(serveArgs)
      .filter(([name, def]) => def.type !== "positional" && name !== "config")
      .map(([name]) => name);
    expect(ROWS.map(([k]) => k).sort()).toEqual(fileKeys.sort());
  });

  test("the table's applied/restart column is what the schema's rows say", () => {
    // What the running server is seen to do (below) and what the rows declare must be one thing.
    const disagree = ROWS.filter(([key, , expected]) => (RESTART.has(key as Name) ? "restart" : "applied") !== expected).map(([k]) => k);
    expect(disagree).toEqual([]);
  });

  test("each setting changed in the TOML in turn", async () => {
    const config = join(dir, "pxeboot.toml");
    let base = "";
    const s = await startWith((port) => {
      base = `root = "${root}"\naddress = "127.0.0.1"\nport = ${port}\ndrain-timeout = 1\nworkers = 1\n`;
      writeFileSync(config, base);
      return [BINARY, "serve", "--config", config];
    });
    try {
      const unsaid: string[] = [];
      for (const [key, value, expected] of ROWS) {
        // Each row starts from the base file: its own key set, the one before back to as started.
        const lines = base.split("\n").filter((l) => !l.startsWith(`${key} =`));
        writeFileSync(config, `${lines.join("\n")}\n${key} = ${value}\n`);
        const from = s.log().length;
        s.proc.kill("SIGHUP");
        const named = new RegExp(`${expected === "applied" ? "changed" : "keys"}=(?:[^ ]*,)?${key}(?:,|\\s|$)`);
        if (!(await eventually(() => named.test(s.log().slice(from)), 5000))) unsaid.push(`${key} (${expected}): ${s.log().slice(from).trim()}`);
        // The next row's reload must not be confused with this one's lines.
        await eventually(() => /SIGHUP: configuration re-read/.test(s.log().slice(from)), 2000);
      }
      expect(unsaid).toEqual([]);
      // Named old → new, once each, by the setting's name.
      expect(s.log()).toMatch(/changed=per-client-max[^ ]* per-client-max="\(default\) → 10"/);
      expect(s.log()).toMatch(/keys=[^ ]*cache-mb[^ ]* .*cache-mb="\(default\) → 8"/);
    } finally {
      await s.stop();
    }
  }, 120_000);
});
