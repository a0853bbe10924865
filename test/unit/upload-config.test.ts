/** The upload flags of `serve` as ServerConfig fields, validated without starting a server. */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/args.ts";
import { serveConfig } from "../../src/cli/serve-config.ts";
import { rootRelative } from "../../src/cli/upload-config.ts";
import { parseCommandLine } from "../../src/config/sources/command-line.ts";
import { validate } from "../../src/config/validate.ts";

/** serve's words, through the flag source and the one validation, as ServerConfig. */
const config = (words: string[]) =>
  serveConfig(validate(parseCommandLine(words, "serve", { origin: (_i, spelled) => ({ kind: "flag", flag: spelled || "DIR" }), prefix: () => "" }).settings));

describe("upload flags", () => {
  test("off by default: no --create, no uploads", () => {
    expect(config(["/tftp"])).toMatchObject({ create: false });
  });

  test("--create with repeated --writable (citty would keep the last), --overwrite and a cap", () => {
    const c = config(["/tftp", "--create", "--writable", "uploads", "--writable=/tftp/crash/dumps", "--overwrite", "--upload-max-mb", "64"]);
    expect(c).toMatchObject({ create: true, writable: ["uploads", "crash/dumps"], overwrite: true, uploadMaxBytes: 64 * 1024 * 1024 });
  });

  test("--create alone: anywhere in the root, no overwrite, no cap", () => {
    expect(config(["--create"])).toMatchObject({ create: true, writable: [], overwrite: false, uploadMaxBytes: 0 });
  });

  test("the upload flags without --create are a usage error naming the fix", () => {
    expect(() => config(["--overwrite"])).toThrow(/--overwrite shape uploads, which are off: add --create/);
    expect(() => config(["--writable", "x"])).toThrow(UsageError);
    expect(() => config(["--upload-max-mb", "1"])).toThrow(/--upload-max-mb/);
  });

  test("a bad cap is a usage error", () => {
    expect(() => config(["--create", "--upload-max-mb", "lots"])).toThrow(/--upload-max-mb needs a whole number/);
  });

  test("--writable is inside the root, relative to it or absolute", () => {
    expect(rootRelative("uploads", "/tftp")).toBe("uploads");
    expect(rootRelative("/tftp/uploads/", "/tftp")).toBe("uploads");
    expect(rootRelative(".", "/tftp")).toBe("");
    expect(rootRelative("a/../b", "/tftp")).toBe("b");
    expect(() => rootRelative("/srv/other", "/tftp")).toThrow(/--writable \/srv\/other is outside the root \/tftp/);
    expect(() => rootRelative("../x", "/tftp")).toThrow(UsageError);
  });
});
