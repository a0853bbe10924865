/** /etc/default/tftpd-hpa, read as its init script reads it. */
import { describe, expect, test } from "bun:test";
import { defaultsFileSettings, initScriptWords, parseAssignments } from "../../src/config/sources/defaults-file.ts";

const DEBIAN = `# /etc/default/tftpd-hpa

TFTP_USERNAME="tftp"
TFTP_DIRECTORY="/srv/tftp"
TFTP_ADDRESS=":69"
TFTP_OPTIONS="--secure"
`;

const values = (text: string) => Object.fromEntries([...defaultsFileSettings(text, "/etc/default/tftpd-hpa")].map(([k, s]) => [k, s.value]));

describe("shell assignments", () => {
  test("quotes, escapes, comments, export, several per line, $VAR of earlier ones", () => {
    const vars = parseAssignments(
      [
        "A='single $NOT \"x\"' # comment",
        'export B="double \\"q\\" \\$ $A"',
        "C=plain\\ word D=${C}2",
        "E=",
        'F="multi',
        'line"',
        "G=$UNSET",
      ].join("\n"),
      "f",
    );
    expect(vars.get("A")).toEqual({ value: 'single $NOT "x"', line: 1 });
    expect(vars.get("B")!.value).toBe('double "q" $ single $NOT "x"');
    expect(vars.get("C")!.value).toBe("plain word");
    expect(vars.get("D")!.value).toBe("plain word2");
    expect(vars.get("E")!.value).toBe("");
    expect(vars.get("F")).toEqual({ value: "multi\nline", line: 5 });
    expect(vars.get("G")!.value).toBe("");
  });

  test.each([
    ['X="$(hostname)"', /line 1: command substitution \$\(…\)/],
    ["\nX=`hostname`", /line 2: command substitution `…`/],
    ["X='open", /unterminated '/],
    ['X="open', /unterminated "/],
    ["echo hi", /'echo hi' is not a NAME=value assignment/],
    ["X=${A:-b}", /only \$\{NAME\} expansions/],
  ])("%p is refused with its line", (text, message) => {
    expect(() => parseAssignments(text, "f")).toThrow(message);
  });
});

describe("the init script's in.tftpd line", () => {
  test("Debian's default file: standalone, user, address, --secure, the directory", () => {
    const words = initScriptWords(parseAssignments(DEBIAN, "f")).map((w) => w.word);
    expect(words).toEqual(["--listen", "--user", "tftp", "--address", ":69", "--secure", "/srv/tftp"]);
    expect(values(DEBIAN)).toEqual({ user: "tftp", address: "", port: "69", root: "/srv/tftp" });
  });

  test("TFTP_OPTIONS is in.tftpd's options, split into words", () => {
    const text = DEBIAN.replace('"--secure"', '"--secure --create -B 1468 -m /etc/tftpd.remap -vv --port-range 6000:6100"');
    expect(values(text)).toEqual({
      user: "tftp",
      address: "",
      port: "69",
      create: true,
      overwrite: true,
      "blksize-max": "1468",
      "map-file": "/etc/tftpd.remap",
      verbose: true,
      "port-range": "6000:6100",
      root: "/srv/tftp",
    });
  });

  test("without --secure the clients' absolute names under the directory are served", () => {
    expect(values(DEBIAN.replace('"--secure"', '""'))).toMatchObject({ root: "/srv/tftp", "strip-prefix": "/srv/tftp" });
  });

  test("unset variables are left to the defaults, not passed empty", () => {
    expect(values('TFTP_DIRECTORY="/tftp"\nTFTP_OPTIONS="-s"')).toEqual({ root: "/tftp" });
  });

  test("origins name the file and the variable", () => {
    const s = defaultsFileSettings(DEBIAN.replace('"--secure"', '"-s -B 1468"'), "/etc/default/tftpd-hpa");
    expect(s.get("blksize-max")!.origin).toEqual({ kind: "defaults-file", file: "/etc/default/tftpd-hpa", variable: "TFTP_OPTIONS", option: "-B" });
    expect(s.get("user")!.origin).toMatchObject({ variable: "TFTP_USERNAME" });
  });

  test("a bad option is one line naming the file, its line and the variable", () => {
    expect(() => defaultsFileSettings(DEBIAN.replace('"--secure"', '"--secure --bogus"'), "/etc/default/tftpd-hpa")).toThrow(
      "/etc/default/tftpd-hpa line 6: TFTP_OPTIONS: unknown option --bogus",
    );
    expect(() => defaultsFileSettings(DEBIAN.replace('"/srv/tftp"', '"/a /b"'), "d")).toThrow(/d line 4: TFTP_DIRECTORY: -s takes exactly one directory, got 2/);
    expect(() => defaultsFileSettings(DEBIAN.replace('":69"', '"tftp.example:69"'), "d")).toThrow(/d line 5: TFTP_ADDRESS: -a tftp.example:69: 'tftp.example' is not an IP address/);
  });
});
