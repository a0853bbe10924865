/** What remap rules, --strip-prefix and --refuse make of a request before it is opened. */
import { describe, expect, test } from "bun:test";
import { TftpError } from "../../src/protocol/errors.ts";
import { ErrorCode, Opcode, type RequestPacket } from "../../src/protocol/types.ts";
import { parseRemapRules } from "../../src/server/requests/remap.ts";
import { rewriteRequest, withoutPrefix } from "../../src/server/requests/rewrite.ts";

const rrq = (filename: string, options: [string, string][] = []): RequestPacket => ({ op: Opcode.RRQ, filename, mode: "octet", options: new Map(options) });

describe("rewriteRequest", () => {
  test("no rules: the very same packet", () => {
    const p = rrq("pxelinux.0", [["blksize", "1468"]]);
    expect(rewriteRequest(p, "10.0.0.1", {})).toBe(p);
  });

  test("remap rules see the client address; the name is replaced", () => {
    const out = rewriteRequest(rrq("boot.cfg"), "10.0.0.1", { remap: parseRemapRules("r ^ \\i/") }) as RequestPacket;
    expect(out.filename).toBe("10.0.0.1/boot.cfg");
  });

  test("an a rule is ERROR 2 with its message, and the rule's line for the log", () => {
    const out = rewriteRequest(rrq("x.pvt"), "10.0.0.1", { remap: parseRemapRules("# private\na \\.pvt$ No\\ way") });
    expect(out).toBeInstanceOf(TftpError);
    expect((out as TftpError).code).toBe(ErrorCode.ACCESS_VIOLATION);
    expect((out as TftpError).message).toBe("No way");
    expect((out as TftpError).logReason).toContain("line 2");
  });

  test("rules that never settle are refused, not looped on", () => {
    const out = rewriteRequest(rrq("a"), "10.0.0.1", { remap: parseRemapRules("rg a aa") });
    expect((out as TftpError).message).toBe("Remap table failure");
  });

  test("--refuse drops the options before negotiation", () => {
    const out = rewriteRequest(rrq("f", [["blksize", "1468"], ["tsize", "0"]]), "10.0.0.1", { refuse: ["blksize"] }) as RequestPacket;
    expect([...out.options]).toEqual([["tsize", "0"]]);
  });

  test("--strip-prefix maps in.tftpd's absolute names into the root", () => {
    const out = rewriteRequest(rrq("/srv/tftp/pxelinux.0"), "10.0.0.1", { stripPrefix: "/srv/tftp" }) as RequestPacket;
    expect(out.filename).toBe("pxelinux.0");
    expect(withoutPrefix("srv/tftp/a/b", "/srv/tftp/")).toBe("a/b");
    expect(withoutPrefix("/srv/tftpx/a", "/srv/tftp")).toBe("/srv/tftpx/a");
    expect(withoutPrefix("pxelinux.0", "/srv/tftp")).toBe("pxelinux.0");
  });
});
