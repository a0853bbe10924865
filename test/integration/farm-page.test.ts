/**
 * The farm page in a real browser (headless Chromium from Debian's chromium-headless-shell): it
 * loads `/` from the --metrics listener while a small boot storm runs from many source
 * addresses, and the DOM must list the hosts with their verdicts; a host whose file names carry
 * markup shows them as text. The screenshot is kept for CI (PXEBOOT_ARTIFACTS, else /tmp).
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { testNeeding } from "../gate.ts";
import { randomFile, run, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

const CHROMIUM = ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"].find((p) => existsSync(p));
const BROWSER = { present: CHROMIUM !== undefined, what: "headless Chromium (apt-get install chromium-headless-shell)" };
const { root, cleanup } = scratchRoot("farm-page");
const METRICS_PORT = 20000 + Math.floor(Math.random() * 30000);
let server: ServerProcess;

beforeAll(async () => {
  randomFile(join(root, "pxelinux.0"), 20_000, 1);
  randomFile(join(root, "vmlinuz"), 300_000, 2);
  randomFile(join(root, "initrd.img"), 300_000, 3);
  mkdirSync(join(root, "pxelinux.cfg"));
  writeFileSync(join(root, "pxelinux.cfg/default"), "DEFAULT linux\n");
  server = await startServer(root, ["--workers", "2", "--metrics", String(METRICS_PORT)]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

const browser = (args: string[]) => run([CHROMIUM!, "--no-sandbox", "--disable-gpu", "--headless", ...args], 90_000);

testNeeding(
  BROWSER,
  "the farm page in headless Chromium during a boot storm: hosts and verdicts in the DOM, markup from a client shown as text",
  async () => {
    const fetch = (from: string, file: string) => run(["curl", "-s", "-o", "/dev/null", "--interface", from, `tftp://127.0.0.1:${server.port}/${file}`], 30_000);
    // 40 hosts boot at once (four files each); host .200 asks for a name full of markup.
    const hosts = Array.from({ length: 40 }, (_, i) => `127.0.3.${i + 10}`);
    const storm = hosts.map(async (h) => {
      for (const f of ["pxelinux.0", "pxelinux.cfg/default", "vmlinuz", "initrd.img"]) await fetch(h, f);
    });
    const hostile = fetch("127.0.3.200", "<script>alert(1)</script>.img");
    // Load the page while the storm runs, then again once it is over.
    const during = browser(["--dump-dom", `http://127.0.0.1:${METRICS_PORT}/`]);
    await Promise.all([...storm, hostile, during]);
    await Bun.sleep(1500); // records are written in batches, twice a second
    const dom = (await browser(["--dump-dom", `http://127.0.0.1:${METRICS_PORT}/`])).stdout;
    const rows = [...dom.matchAll(/<tr class="(\w+)"><td><a [^>]*>([^<]+)<\/a>/g)].map((m) => ({ cls: m[1], id: m[2] }));
    for (const h of hosts) expect(rows.some((r) => r.id === h)).toBe(true);
    expect(dom).toContain("booted");
    expect(dom).toMatch(/file-missing/);
    // The hostile name is text in a cell, never an element: the browser parsed no script.
    expect(dom).not.toContain("<script>alert(1)");
    expect(dom).toContain("&lt;script&gt;alert(1)&lt;/script&gt;.img");
    const dir = process.env.PXEBOOT_ARTIFACTS ?? "/tmp/pxeboot-artifacts";
    mkdirSync(dir, { recursive: true });
    const shot = join(dir, "farm-page.png");
    await browser([`--screenshot=${shot}`, "--window-size=1280,900", `http://127.0.0.1:${METRICS_PORT}/`]);
    expect(existsSync(shot)).toBe(true);
    console.log(`farm page screenshot: ${shot}`);
  },
  180_000,
);
