/** The upload flags of `serve` as ServerConfig fields, validated without starting a server. */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/args.ts";
import { serveConfig, serveDefaults } from "../../src/cli/serve-config.ts";
import { rootRelative, uploadConfig } from "../../src/cli/upload-config.ts";

describe("upload flags", () => {
  test("off by default: no --create, no uploads", () => {
    expect(serveConfig({ ...serveDefaults(), root: "/tftp" })).toMatchObject({ create: false });
  });

  test("--create with repeated --writable (citty would keep the last), --overwrite and a cap", () => {
    const raw = ["/tftp", "--create", "--writable", "uploads", "--writable=/tftp/crash/dumps", "--overwrite", "--upload-max-mb", "64"];
    const c = serveConfig({ ...serveDefaults(), dir: "/tftp", create: true, writable: "/tftp/crash/dumps", overwrite: true, "upload-max-mb": "64" }, raw);
    expect(c).toMatchObject({ create: true, writable: ["uploads", "crash/dumps"], overwrite: true, uploadMaxBytes: 64 * 1024 * 1024 });
  });

  test("--create alone: anywhere in the root, no overwrite, no cap", () => {
    expect(uploadConfig({ create: true }, ["--create"], "/tftp")).toEqual({ create: true, writable: [], overwrite: false, uploadMaxBytes: 0 });
  });

  test("the upload flags without --create are a usage error naming the fix", () => {
    expect(() => uploadConfig({ overwrite: true }, ["--overwrite"], "/tftp")).toThrow(/--overwrite shape uploads, which are off: add --create/);
    expect(() => uploadConfig({ writable: "x" }, ["--writable", "x"], "/tftp")).toThrow(UsageError);
    expect(() => uploadConfig({ "upload-max-mb": "1" }, [], "/tftp")).toThrow(/--upload-max-mb/);
  });

  test("a bad cap is a usage error", () => {
    expect(() => uploadConfig({ create: true, "upload-max-mb": "lots" }, [], "/tftp")).toThrow(/--upload-max-mb needs a whole number/);
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
