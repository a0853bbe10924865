/** Which source packages a built-in loader's manifest names as its corresponding source. */
import { describe, expect, test } from "bun:test";
import { correspondingSources } from "../../src/loaders/debian-sources.ts";

const names = (s: { package: string; version: string; license: string }[]) => s.map((x) => `${x.package} ${x.version} ${x.license}`);

describe("corresponding sources from control fields", () => {
  test("a signed package's code is what it was built using, not its own signatures-only source", () => {
    const shim = { package: "shim-signed", version: "1.51~1+deb12u1+16.1-2~deb12u1", source: "shim-signed (1.51~1+deb12u1)", builtUsing: "shim (= 16.1-2~deb12u1)" };
    expect(names(correspondingSources(shim))).toEqual(["shim 16.1-2~deb12u1 BSD-2-Clause"]);
    // No Source field: the source is named as the package.
    const grub = { package: "grub-efi-amd64-signed", version: "1+2.06+13+deb12u2", source: "", builtUsing: "grub2 (= 2.06-13+deb12u2)" };
    expect(names(correspondingSources(grub))).toEqual(["grub2 2.06-13+deb12u2 GPL-3.0-or-later"]);
  });

  test("an ordinary package: its source, plus what it statically contains (Built-Using)", () => {
    const efi = { package: "syslinux-efi", version: "3:6.04~git20190206.bf6db5b4+dfsg1-3", source: "syslinux", builtUsing: "gnu-efi (= 3.0.9-1)" };
    expect(names(correspondingSources(efi))).toEqual(["syslinux 3:6.04~git20190206.bf6db5b4+dfsg1-3 GPL-2.0-or-later", "gnu-efi 3.0.9-1 BSD-3-Clause"]);
    const ipxe = correspondingSources({ package: "ipxe", version: "1.0.0+git-20190125.36a4c85-5.1", source: "", builtUsing: "" });
    expect(ipxe).toEqual([
      {
        package: "ipxe",
        version: "1.0.0+git-20190125.36a4c85-5.1",
        license: "GPL-2.0-or-later",
        sources: "https://sources.debian.org/src/ipxe/1.0.0+git-20190125.36a4c85-5.1/",
        snapshot: "https://snapshot.debian.org/package/ipxe/1.0.0%2Bgit-20190125.36a4c85-5.1/",
      },
    ]);
  });

  test("a source with no known licence, or an unreadable Built-Using, stops the refresh", () => {
    expect(() => correspondingSources({ package: "foo", version: "1", source: "", builtUsing: "" })).toThrow("no licence known for source package foo");
    expect(() => correspondingSources({ package: "ipxe", version: "1", source: "", builtUsing: "grub2 >= 2" })).toThrow("cannot read Built-Using 'grub2 >= 2'");
  });
});
