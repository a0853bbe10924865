/**
 * The DHCP snippets `pxeboot init` prints are valid for their servers: dnsmasq accepts its own
 * (`dnsmasq --test`), Kea's client classes are JSON inside "Dhcp4", and ISC's braces balance.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dhcpSnippets, render, TEMPLATES, UEFI_ARM64_BOOT_FILE } from "../../src/layout/templates.ts";
import { testNeeding } from "../gate.ts";
import { cleanup, tempDir } from "./fixtures.ts";

afterEach(cleanup);

const DNSMASQ = { present: Bun.which("dnsmasq", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) !== null, what: "dnsmasq (package dnsmasq-base)" };
const vars = (port?: number) => ({ server: "10.0.0.1", uefi: "shimx64.efi", uefiArm64: UEFI_ARM64_BOOT_FILE, port: port === undefined ? undefined : String(port) });

describe("DHCP snippets", () => {
  for (const [label, template, port] of [["TFTP", TEMPLATES.dhcpDnsmasq, undefined], ["HTTP", TEMPLATES.dhcpDnsmasqHttp, 8080]] as const) {
    testNeeding(DNSMASQ, `dnsmasq --test accepts the ${label} snippet`, () => {
      const conf = join(tempDir(), "pxeboot.conf");
      writeFileSync(conf, render(template, vars(port)));
      const dnsmasq = Bun.which("dnsmasq", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" })!;
      const r = Bun.spawnSync([dnsmasq, `--conf-file=${conf}`, "--test"], { stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toContain("syntax check OK");
      expect(r.exitCode).toBe(0);
    });
  }

  for (const [label, template, port] of [["TFTP", TEMPLATES.dhcpKea, undefined], ["HTTP", TEMPLATES.dhcpKeaHttp, 8080]] as const) {
    test(`Kea's ${label} client classes parse as JSON inside Dhcp4 and cover arch 0, 7, 9, 11`, () => {
      const body = render(template, vars(port)).split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n");
      const parsed = JSON.parse(`{ "Dhcp4": { ${body} } }`) as { Dhcp4: { "client-classes": { name: string; test: string }[] } };
      const tests = parsed.Dhcp4["client-classes"].map((c) => c.test).join("\n");
      for (const arch of ["0x0000", "0x0007", "0x0009", "0x000b"]) expect(tests).toContain(arch);
      if (port) expect(tests).toContain("0x0013");
    });
  }

  test("ISC's snippets have balanced braces and one filename per client kind", () => {
    for (const s of [render(TEMPLATES.dhcpIsc, vars()), render(TEMPLATES.dhcpIscHttp, vars(8080))]) {
      expect(s.split("{").length).toBe(s.split("}").length);
      expect(s).toContain("option arch = 00:0b");
    }
    expect(dhcpSnippets("10.0.0.1", "shimx64.efi", 8080)).toContain("option arch = 00:13");
  });
});
