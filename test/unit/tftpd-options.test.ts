/**
 * in.tftpd's command line as pxeboot reads it (serve and in.tftpd): each option to its native
 * setting, clustered flags as getopt takes them, and the refusals, one line each.
 */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/args.ts";
import { parseCommandLine, type Mode } from "../../src/config/sources/command-line.ts";
import { getopt } from "../../src/config/sources/getopt.ts";
import { parseListen, TFTPD_OPTIONS, tftpdEffect, tftpdHelpArgs } from "../../src/config/sources/tftpd-options.ts";

const source = { origin: (_i: number, spelled: string) => ({ kind: "flag" as const, flag: spelled || "DIR" }), prefix: () => "t: ", hint: " (see --help)" };

/** The settings a command line makes, as plain key → value. */
function values(words: string[], mode: Mode = "in.tftpd"): Record<string, unknown> {
  const { settings } = parseCommandLine(words, mode, source);
  return Object.fromEntries([...settings].map(([k, s]) => [k, s.value]));
}

function refusal(words: string[], mode: Mode = "in.tftpd"): string {
  try {
    parseCommandLine(words, mode, source);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message.split("\n").length).toBe(1);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${words.join(" ")}`);
}

describe("in.tftpd options, each mapped to a native setting", () => {
  test.each([
    [["-l", "-s", "/srv/tftp"], { root: "/srv/tftp" }],
    [["-L", "-s", "/srv/tftp"], { root: "/srv/tftp" }],
    [["-L", "-c"], { create: true, overwrite: true }],
    [["-L", "-p"], { permissive: true }],
    [["-L", "-u", "tftp"], { user: "tftp" }],
    [["-L", "-U", "022"], { umask: "022" }],
    [["-L", "-4"], { ipv4: true }],
    [["-L", "-6"], { ipv6: true }],
    [["-L", "-R", "50000:50999"], { "port-range": "50000:50999" }],
    [["-L", "-m", "/etc/tftpd.remap"], { "map-file": "/etc/tftpd.remap" }],
    [["-L", "-t", "900"], {}],
    [["-L", "-T", "500000"], { timeout: "0.5" }],
    [["-L", "-T", "1000000"], { timeout: "1" }],
    [["-L", "-B", "1468"], { "blksize-max": "1468" }],
    [["-L", "-r", "blksize", "-r", "tsize"], { refuse: ["blksize", "tsize"] }],
    [["-L", "-v"], { verbose: true }],
    [["-L", "-P", "/run/tftpd.pid"], { pidfile: "/run/tftpd.pid" }],
    [["-L", "-q"], { quiet: true }],
    [["-a", "127.0.0.1:6969"], { address: "127.0.0.1", port: "6969" }],
    [["-a", ":69"], { address: "", port: "69" }],
    [["-a", "[::1]:tftp"], { address: "::1", port: "69" }],
    [["-a", "10.0.0.1", "-a", "10.0.0.2"], { address: "10.0.0.1,10.0.0.2" }],
    [["-L", "--verbosity", "3"], { verbose: true }],
    [["-L", "--reject-all"], { refuse: ["blksize", "blksize2", "tsize", "timeout", "utimeout", "rollover", "windowsize"] }],
    [["-L", "-W", "8"], { "windowsize-max": "8" }],
  ])("%p", (words, expected) => {
    expect(values(words)).toEqual(expected);
  });

  test("clustered flags and attached values, as getopt takes them", () => {
    expect(values(["-lsc", "/srv/tftp"])).toEqual({ create: true, overwrite: true, root: "/srv/tftp" });
    expect(values(["-Lvvv"])).toEqual({ verbose: true });
    expect(values(["-LB1468", "-sR6000:6010", "/t"])).toEqual({ "blksize-max": "1468", "port-range": "6000:6010", root: "/t" });
    expect(values(["-L", "/t", "-s"])).toEqual({ root: "/t" }); // options after operands too
  });

  test("in.tftpd's long options, with = or a separate value, abbreviated when unique", () => {
    expect(values(["--listen", "--secure", "--address=0.0.0.0:69", "--blocksize", "1468", "/t"])).toEqual({ address: "0.0.0.0", port: "69", "blksize-max": "1468", root: "/t" });
    expect(values(["--foreground", "--retransmit=2000000", "--map-f", "m"])).toEqual({ timeout: "2", "map-file": "m" });
    expect(values(["--fore", "--chroot", "--ports", "1:2", "/t"])).toEqual({ "port-range": "1:2", root: "/t" });
  });

  test("without -s the directory is the root too, and '/DIR/FILE' requests are served as FILE", () => {
    expect(values(["-L", "/srv/tftp"])).toEqual({ root: "/srv/tftp", "strip-prefix": "/srv/tftp" });
  });

  test("native flags work in in.tftpd mode where in.tftpd has no such option", () => {
    expect(values(["-L", "--max-transfers", "100", "--no-install-once"])).toEqual({ "max-transfers": "100", "install-once": false });
  });
});

describe("serve keeps pxeboot's meaning where the two disagree", () => {
  test("--address is a list, --timeout seconds; the short options are in.tftpd's", () => {
    expect(values(["--address", "127.0.0.1,::1", "--timeout", "2", "-a", ":6969"], "serve")).toEqual({ address: "", port: "6969", timeout: "2" });
    expect(values(["--address", "127.0.0.1", "--timeout", "2"], "serve")).toEqual({ address: "127.0.0.1", timeout: "2" });
    expect(values(["-s", "/srv/tftp", "-c", "-B", "1468"], "serve")).toEqual({ create: true, overwrite: true, "blksize-max": "1468", root: "/srv/tftp" });
  });
  test("serve needs no -l, and DIR never strips a prefix", () => {
    expect(values(["/srv/tftp"], "serve")).toEqual({ root: "/srv/tftp" });
  });
  test("repeatable flags collect; --no- turns a boolean off", () => {
    expect(values(["--allow", "10.0.0.0/8", "--allow=192.168.0.0/16", "--no-install-once"], "serve")).toEqual({ allow: ["10.0.0.0/8", "192.168.0.0/16"], "install-once": false });
  });
  test("-V asks for the version", () => {
    expect(parseCommandLine(["-V"], "in.tftpd", source).version).toBe(true);
    expect(parseCommandLine(["--version"], "serve", source).version).toBe(true);
  });
});

describe("refusals: one line saying what to use instead", () => {
  test.each([
    [["-s", "/t"], /without -l, -L or -a .* add -L/],
    [["-L", "-s", "/a", "/b"], /-s takes exactly one directory, got 2/],
    [["-L", "/a", "/b"], /pxeboot serves one root, got 2 directories/],
    [["-L", "-x"], /unknown option -x \(see --help\)/],
    [["-L", "--bogus"], /unknown option --bogus/],
    [["-L", "--ver"], /--ver is ambiguous/],
    [["-L", "-B"], /-B needs a value/],
    [["-L", "--listen=1"], /--listen takes no value/],
    [["-L", "-T", "5"], /-T \(microseconds\) needs a whole number from 10000 to 255000000/],
    [["-L", "-U", "999"], /-U needs an octal umask/],
    [["-L", "-t", "x"], /-t needs a whole number/],
    [["-L", "--systemd"], /socket activation.*pxeboot in.tftpd -L/],
    [["-L", "--map-steps", "10"], /--map-steps is not supported/],
    [["-L", "-S", "bootps"], /'bootps' is not a port number/],
    [["-a", "10.0.0.1:69", "-a", "10.0.0.2:70"], /one port for every address/],
  ])("%p", (words, message) => {
    expect(refusal(words)).toMatch(message);
  });

  test("serve: one DIR, and no second root", () => {
    expect(refusal(["a", "b"], "serve")).toMatch(/unexpected argument 'b'/);
    expect(refusal(["--root", "/a", "/b"], "serve")).toMatch(/two roots given/);
  });
});

describe("-a [ADDRESS][:PORT]", () => {
  test.each([
    ["0.0.0.0", { host: "0.0.0.0", port: undefined }],
    ["0.0.0.0:69", { host: "0.0.0.0", port: "69" }],
    [":6969", { host: "", port: "6969" }],
    ["*:6969", { host: "", port: "6969" }],
    ["[fd00::1]:69", { host: "fd00::1", port: "69" }],
    ["[fd00::1]", { host: "fd00::1", port: undefined }],
  ])("%p", (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });
  test.each([
    ["::1", /in brackets/],
    ["tftp.example.com:69", /not an IP address/],
    ["10.0.0.1:99999", /not a port number/],
    ["[::1", /no closing \]/],
    ["[::1]x", /expected \[ADDRESS\]\[:PORT\]/],
  ])("%p is refused", (text, message) => {
    expect(() => parseListen(text)).toThrow(message);
  });
});

describe("getopt", () => {
  test("-- ends the options; a lone - is an operand", () => {
    const table = { short: (l: string) => (l === "v" ? { id: "v", takesValue: false } : undefined), long: () => undefined };
    expect(getopt(["-v", "--", "-v", "-"], table).map((i) => i.kind)).toEqual(["option", "operand", "operand"]);
    expect(getopt(["-"], table)[0]).toMatchObject({ kind: "operand", value: "-" });
  });
});

describe("in.tftpd --help", () => {
  test("lists every option that works, by its letter, and none that is refused", () => {
    const help = tftpdHelpArgs();
    const listed = new Set(Object.entries(help).flatMap(([name, d]) => [name, ...(d.alias ?? [])]));
    // A value each option accepts, for those that take one.
    const sample: Record<string, string> = { a: "127.0.0.1", u: "nobody", U: "022", R: "5000:5010", S: "69", m: "/m", t: "1", T: "1000000", B: "1024", W: "4", r: "tsize", verbosity: "1", P: "/p" };
    const works = (id: string) => {
      try {
        tftpdEffect(id, sample[id]);
        return true;
      } catch {
        return false;
      }
    };
    for (const id of Object.keys(TFTPD_OPTIONS)) expect([id, listed.has(id)]).toEqual([id, works(id)]);
  });
});
