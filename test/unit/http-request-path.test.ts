import { describe, expect, test } from "bun:test";
import { decodeRequestPath, rawPath } from "../../src/http/request-path.ts";

const name = (p: string) => {
  const r = decodeRequestPath(p);
  return r.ok ? r.name : `${r.status}`;
};

describe("rawPath", () => {
  test("cuts the path out of an absolute URL without resolving it", () => {
    expect(rawPath("http://10.0.0.1:8080/a/b.efi?x=1#f")).toBe("/a/b.efi");
    expect(rawPath("http://[fd00::1]:8080/%2e%2e/x")).toBe("/%2e%2e/x");
    expect(rawPath("http://host")).toBe("/");
  });
});

describe("decodeRequestPath", () => {
  test("plain names and escapes decode to root-relative names", () => {
    expect(name("/pxelinux.0")).toBe("pxelinux.0");
    expect(name("/images/debian%2012/linux")).toBe("images/debian 12/linux");
    // Bytes ≥ 0x80 stay bytes (one char each), as files/ expects.
    expect(name("/%C3%BC")).toBe("\u00c3\u00bc");
  });

  test("dot segments are refused however spelled", () => {
    for (const p of ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/%2E%2e/x", "/.%2e/x", "/./x", "/%2e/x"]) expect(name(p)).toBe("403");
  });

  test("encoded separators and backslashes are refused", () => {
    for (const p of ["/a%2fb", "/a%2Fb", "/%2fetc/passwd", "/a%5cb", "/a\\b", "/..\\..\\x"]) expect(name(p)).toBe("403");
  });

  test("NUL, control bytes and malformed escapes are bad requests", () => {
    for (const p of ["/a%00", "/a%0a", "/a%7f", "/a%zz", "/a%2", "/a%", "/a\u0001"]) expect(name(p)).toBe("400");
  });

  test("repeated slashes fold into one (shim asks //grubaa64.efi); the name stays relative to the root", () => {
    expect(name("//etc/passwd")).toBe("etc/passwd");
    expect(name("/a//b")).toBe("a/b");
    expect(name("//grubaa64.efi")).toBe("grubaa64.efi");
    expect(name("//")).toBe("404");
  });

  test("non-path targets are bad requests", () => {
    expect(name("*")).toBe("400");
    expect(name("etc/passwd")).toBe("400");
  });

  test("the root and directories named with a slash get no listing", () => {
    expect(name("/")).toBe("404");
    expect(name("/pxelinux.cfg/")).toBe("404");
  });
});
