/**
 * The one serve configuration: the TOML file, the defaults file and flags merged and validated
 * into ServeSettings, without starting a server; every mistake one line naming where it is.
 */
import { availableParallelism } from "node:os";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/cli/args.ts";
import { configFileSettings } from "../../src/config/sources/toml-file.ts";
import { lineOfKey } from "../../src/config/toml.ts";
import { renderToml } from "../../src/config/show.ts";
import { resolveServe, type FileAccess } from "../../src/cli/resolve-serve.ts";
import { serveSettings } from "../../src/cli/serve-settings.ts";
import { validate } from "../../src/config/validate.ts";

/** A real file (the remap rules are read where the server reads them). */
function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "pxeboot-config-")), name);
  writeFileSync(path, text);
  return path;
}

/** Files by path, for resolveServe without a disk. */
function files(map: Record<string, string>): FileAccess {
  return {
    exists: (p) => p in map,
    read: (p) => {
      if (!(p in map)) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return map[p]!;
    },
  };
}

const resolve = (args: string[], map: Record<string, string> = {}, mode: "serve" | "in.tftpd" = "serve") =>
  resolveServe(args, mode, { files: files(map), defaultConfig: "/etc/pxeboot.toml" });

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg.split("\n").length).toBe(1);
    return msg;
  }
  throw new Error("no error");
}

const TOML = `# /etc/pxeboot.toml
root = "/srv/tftp"
max-transfers = 20000
timeout = 0.5
permissive = true
allow = ["10.0.0.0/8", "192.168.0.0/16"]
address = ["127.0.0.1", "::1"]
remap = ['rg \\\\ /', 'ri ^pxelinux\\.0$ pxelinux.0']
log-format = "json"
`;

describe("the TOML config file", () => {
  test("keys are the long flags; numbers, booleans and arrays as TOML has them", () => {
    const s = configFileSettings(TOML, "/etc/pxeboot.toml");
    expect(Object.fromEntries([...s].map(([k, v]) => [k, v.value]))).toEqual({
      root: "/srv/tftp",
      "max-transfers": 20000,
      timeout: 0.5,
      permissive: true,
      allow: ["10.0.0.0/8", "192.168.0.0/16"],
      address: ["127.0.0.1", "::1"],
      remap: ["rg \\\\ /", "ri ^pxelinux\\.0$ pxelinux.0"],
      "log-format": "json",
    });
    expect(s.get("allow")!.origin).toEqual({ kind: "file", file: "/etc/pxeboot.toml", line: 6 });
  });

  test.each([
    ["port = 69\nmax_transfers = 5", "f line 2: unknown key 'max_transfers' (did you mean max-transfers?)"],
    ["\nbogus = 1", "f line 2: unknown key 'bogus' (keys are serve's long flags, e.g. max-transfers (see pxeboot serve --help))"],
    ["permissive = 1", "f line 1: permissive: expected true or false, got a number"],
    ["port = true", "f line 1: port: expected a string or a number, got a boolean"],
    ["allow = [1, {a = 1}]", "f line 1: allow: expected a string or an array of strings, got a table"],
    ["[serve]\nport = 69", "f line 1: unknown key 'serve' (keys are serve's long flags, e.g. max-transfers (see pxeboot serve --help))"],
    ["config = 'x'", "f line 1: config: a config file cannot name another one"],
    ["port = 69\nallow = [\"a\"\nqueue-max = 1", "f line 3: TOML syntax error: Expected ',' or ']' in an array but found 'q'"],
    ['a = 1\nroot = "/x', "f line 2: TOML syntax error: Unterminated string"],
    ["port = 69\nport = 70", "f line 2: TOML syntax error: Cannot redefine key 'port'"],
  ])("%p", (text, message) => {
    expect(failure(() => configFileSettings(text, "f"))).toBe(message);
  });

  test("lineOfKey finds bare and quoted keys", () => {
    expect(lineOfKey('a = 1\n  "port-range" = "1:2"', "port-range")).toBe(2);
    expect(lineOfKey("a = 1", "b")).toBeUndefined();
  });
});

describe("merging sources into ServeSettings", () => {
  test("defaults alone", () => {
    const { settings } = resolve([]);
    expect(settings.server).toMatchObject({ root: "/tftp", addresses: ["::"], port: 69, timeoutMs: 1000, permissive: false });
    // One worker per core (at most 8), the limits split between them.
    const workers = Math.min(8, availableParallelism());
    expect(settings).toMatchObject({ logFormat: "pretty", logLevel: "info", installOnce: true, workers, dualStackDefault: true });
    // The limits stay the whole server's here; each process takes its share when it starts.
    expect(settings.server).toMatchObject({ processes: workers, maxTransfers: 10000, cacheBytes: 512 * 1048576 });
  });

  test("/etc/pxeboot.toml is read when it exists; flags override it, lists replaced", () => {
    const { settings, sources } = resolve(["--max-transfers", "5", "--allow", "172.16.0.0/12"], { "/etc/pxeboot.toml": TOML });
    expect(sources).toEqual(["/etc/pxeboot.toml"]);
    expect(settings.server).toMatchObject({ root: "/srv/tftp", maxTransfers: 5, timeoutMs: 500, permissive: true, allow: ["172.16.0.0/12"], addresses: ["127.0.0.1", "::1"] });
    expect(settings.server.remap!.length).toBe(2);
    expect(settings.logFormat).toBe("json");
  });

  test("--config names another file, which must exist", () => {
    expect(resolve(["--config", "/x.toml"], { "/x.toml": "port = 6969" }).settings.server.port).toBe(6969);
    expect(failure(() => resolve(["--config", "/nope.toml"]))).toBe("--config /nope.toml: cannot read it (ENOENT)");
  });

  test("precedence: defaults < config file < defaults file < flags", () => {
    const map = {
      "/etc/pxeboot.toml": 'defaults-file = "/etc/default/tftpd-hpa"\nport = 1000\nblksize-max = 1000\nwindowsize-max = 8\n',
      "/etc/default/tftpd-hpa": 'TFTP_DIRECTORY="/srv/tftp"\nTFTP_ADDRESS="127.0.0.1:2000"\nTFTP_OPTIONS="-s -B 1468"',
    };
    const { settings, sources } = resolve(["-B", "512"], map);
    expect(sources).toEqual(["/etc/pxeboot.toml", "/etc/default/tftpd-hpa"]);
    expect(settings.server).toMatchObject({ root: "/srv/tftp", addresses: ["127.0.0.1"], port: 2000, blockSizeMax: 512, windowSizeMax: 8 });
  });

  test("tftpd-hpa options land in the same object: -p -c -4 -R -T -r -U -P -m", () => {
    const m = tempFile("map", "rg \\\\ /\n");
    const { settings } = resolve(["-L", "-p", "-c", "-4", "-R", "6000:6009", "-T", "250000", "-r", "blksize", "-U", "027", "-P", "/run/x.pid", "-m", m, "-s", "/srv/tftp"], {}, "in.tftpd");
    expect(settings.server).toMatchObject({ permissive: true, create: true, addresses: ["0.0.0.0"], portRange: { low: 6000, high: 6009 }, timeoutMs: 250, refuse: ["blksize"] });
    expect(settings.server.remap!.length).toBe(1);
    expect(settings).toMatchObject({ umask: 0o027, pidfile: "/run/x.pid", dualStackDefault: false, remapSources: { mapFile: m, inline: [] } });
  });

  test("-6 listens on :: and leaves IPv4 clients unanswered", () => {
    const { settings } = resolve(["-6"]);
    expect(settings.server.addresses).toEqual(["::"]);
    expect(settings.server.deny).toEqual(["0.0.0.0/0"]);
  });

  test("in.tftpd without -s: the root, and absolute names under it", () => {
    expect(resolve(["-L", "/srv/tftp"], {}, "in.tftpd").settings.server).toMatchObject({ root: "/srv/tftp", stripPrefix: "/srv/tftp" });
  });
});

describe("errors name the file, the key and the line", () => {
  test.each([
    [["--port", "70000"], {}, "--port must be from 0 to 65535, got 70000"],
    [["-B", "4"], {}, "-B: --blksize-max must be from 8 to 65464, got 4"],
    [[], { "/etc/pxeboot.toml": "port = 69\nmax-transfers = 0" }, "/etc/pxeboot.toml line 2: max-transfers must be from 1 to 1000000, got 0"],
    [[], { "/etc/pxeboot.toml": "\nallow = ['10.0.0.0/33']" }, "/etc/pxeboot.toml line 2: allow '10.0.0.0/33': the prefix length must be 0 to 32"],
    [[], { "/etc/pxeboot.toml": 'root = "/tftp"\nport = "69"' }, '/etc/pxeboot.toml line 2: port: expected a number, got a string: write port = 69, without quotes'],
    [[], { "/etc/pxeboot.toml": "rollover = '1'" }, "/etc/pxeboot.toml line 1: rollover: expected a number, got a string: write rollover = 1, without quotes"],
    [[], { "/etc/pxeboot.toml": "user = 'no-such-user-here'" }, "/etc/pxeboot.toml line 1: user: no such user 'no-such-user-here' (try user nobody)"],
    [[], { "/etc/pxeboot.toml": "port-range = '9:1'" }, "/etc/pxeboot.toml line 1: port-range needs LOW:HIGH with 1 <= LOW <= HIGH <= 65535 (e.g. 50000:50999), got '9:1'"],
    [[], { "/etc/pxeboot.toml": "refuse = ['blksize', 'bogus']" }, "/etc/pxeboot.toml line 1: refuse: unknown option 'bogus' (one of blksize, blksize2, tsize, timeout, utimeout, rollover, windowsize)"],
    [[], { "/etc/pxeboot.toml": "remap = ['rx a b']" }, "/etc/pxeboot.toml line 1: remap 'rx a b': unknown operation 'x' in 'rx' (known: r g i e s a ~ 4 6 G P)"],
    [["--defaults-file", "/d"], { "/d": 'TFTP_OPTIONS="-s -B 4"' }, "/d TFTP_OPTIONS -B: --blksize-max must be from 8 to 65464, got 4"],
    [["--ipv4", "--address", "::1"], {}, "--ipv4: --address ::1 is not an IPv4 address"],
    [["--umask", "888"], {}, "--umask needs an octal mask from 000 to 777 (e.g. 022), got '888'"],
    [["--timeout", "0.001"], {}, "--timeout must be from 0.01 to 255 seconds, got 0.001"],
    [["--log-format", "xml"], {}, "--log-format must be pretty or json, got 'xml'"],
  ])("%p %p", (args, map, message) => {
    expect(failure(() => resolve(args as string[], map as Record<string, string>))).toBe(message);
  });
});

test("a map file's error names it and the rule's line", () => {
  const m = tempFile("map", "# rules\nr ok ok\nrj x y");
  expect(failure(() => resolve(["--map-file", m]))).toBe(`--map-file ${m} line 3: j (jump to a label) is not supported; write the rules without jumps`);
  expect(failure(() => resolve([], { "/etc/pxeboot.toml": "\n\nmap-file = '/no/such/map'" }))).toBe("/etc/pxeboot.toml line 3: map-file /no/such/map: cannot read it (ENOENT)");
});

describe("config show", () => {
  test("prints every key, with where a value came from; the output reads back the same", () => {
    const r = resolve(["--port", "6969", "-R", "6000:6010"], { "/etc/pxeboot.toml": TOML });
    const text = renderToml(r.merged, r.sources);
    expect(text).toContain("port = 6969  # --port");
    expect(text).toContain("port-range = '6000:6010'  # -R");
    expect(text).toContain("allow = ['10.0.0.0/8', '192.168.0.0/16']  # /etc/pxeboot.toml line 6");
    expect(text).toContain("remap = ['rg \\\\ /', 'ri ^pxelinux\\.0$ pxelinux.0']");
    expect(text).toContain("# user =");
    expect(text).toContain("retries = 6");
    const again = resolve([], { "/etc/pxeboot.toml": text });
    expect(again.settings).toEqual(r.settings);
  });

  test("a config file written by hand validates as flags would", () => {
    const dir = mkdtempSync(join(tmpdir(), "pxeboot-config-"));
    const map = join(dir, "map");
    writeFileSync(map, "rg \\\\ /\n");
    const s = serveSettings(validate(configFileSettings(`map-file = '${map}'\nworkers = 2`, "f")));
    expect(s.workers).toBe(2);
    expect(s.server.reusePort).toBe(true);
    expect(s.server.remap!.length).toBe(1);
  });
});
