import { describe, expect, test } from "bun:test";
import { parseHttpListen } from "../../src/config/values.ts";

describe("--http [ADDR:]PORT", () => {
  test("a port alone listens everywhere; an address or a bracketed IPv6 address narrows it", () => {
    expect(parseHttpListen("8080")).toEqual({ address: "::", port: 8080 });
    expect(parseHttpListen("10.0.0.1:80")).toEqual({ address: "10.0.0.1", port: 80 });
    expect(parseHttpListen("[fd00::1]:8080")).toEqual({ address: "fd00::1", port: 8080 });
  });

  test("anything else is one line naming the form", () => {
    expect(() => parseHttpListen("http://x")).toThrow(/--http needs \[ADDR:\]PORT/);
    expect(() => parseHttpListen("fd00::1:80")).toThrow(/--http needs/);
    expect(() => parseHttpListen("70000")).toThrow(/--http must be from 0 to 65535/);
  });
});

describe("--http in the config file", () => {
  test("a TOML number or string is the same setting as the flag; the flag wins", async () => {
    const { resolveServe } = await import("../../src/cli/resolve-serve.ts");
    const files = (text: string) => ({ read: () => text, exists: () => true });
    expect(resolveServe(["--root", "/tmp"], "serve", { files: files("http = 8080"), defaultConfig: "/x.toml" }).settings.http).toEqual({ address: "::", port: 8080 });
    expect(resolveServe(["--root", "/tmp"], "serve", { files: files('http = "127.0.0.1:81"'), defaultConfig: "/x.toml" }).settings.http).toEqual({ address: "127.0.0.1", port: 81 });
    expect(resolveServe(["--root", "/tmp", "--http", "9090"], "serve", { files: files("http = 8080"), defaultConfig: "/x.toml" }).settings.http?.port).toBe(9090);
    expect(resolveServe(["--root", "/tmp"], "serve", { files: files(""), defaultConfig: "/x.toml" }).settings.http).toBeUndefined();
  });
});
