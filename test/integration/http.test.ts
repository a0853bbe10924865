/**
 * `serve --http` end to end: curl against the compiled binary on loopback. The HTTP side listens
 * on the TFTP port's number (TCP beside UDP), so one free port serves both.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, pathExists, pxeboot, randomFile, run, scratchRoot, sha256, sha256File, startWith, type ServerProcess } from "./harness.ts";
import { BINARY } from "./harness.ts";

let tree: { root: string; cleanup(): void };
let outside: { root: string; cleanup(): void };
let srv: ServerProcess;
let bigSha: string;
const BIG = 64 * 1024 * 1024;

const url = (path: string) => `http://127.0.0.1:${srv.port}${path}`;

/** curl's status, headers and body; `args` come before the URL. */
async function curl(path: string, args: string[] = []): Promise<{ status: number; headers: string; body: string }> {
  const r = await run(["curl", "-s", "--path-as-is", "-D", "-", ...args, url(path)], 60_000);
  const [head, ...rest] = r.stdout.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? "")?.[1] ?? 0);
  return { status, headers: head ?? "", body: rest.join("\r\n\r\n") };
}

const header = (headers: string, name: string) => new RegExp(`^${name}: (.*)$`, "im").exec(headers)?.[1]?.trim();

beforeAll(async () => {
  tree = scratchRoot("http");
  outside = scratchRoot("http-outside");
  await pxeboot("init", tree.root, "--profile", "7.2");
  await pxeboot("host", "add", "127.0.0.41", "7.2", "--root", tree.root);
  await pxeboot("host", "add", "127.0.0.42", "7.2", "--root", tree.root);
  await pxeboot("host", "add", "127.0.0.43", "7.2", "--root", tree.root);
  const r = tree.root;
  writeFileSync(join(r, "hello.txt"), "hello over http\n");
  chmodSync(join(r, "hello.txt"), 0o644);
  mkdirSync(join(r, "images"), { mode: 0o755 });
  bigSha = sha256(randomFile(join(r, "images/initrd.img"), BIG, 7));
  chmodSync(join(r, "images/initrd.img"), 0o644);
  writeFileSync(join(r, "private.bin"), "owner only\n");
  chmodSync(join(r, "private.bin"), 0o600);
  writeFileSync(join(outside.root, "secret"), "SECRET-OUTSIDE-THE-ROOT\n");
  chmodSync(join(outside.root, "secret"), 0o644);
  symlinkSync(join(outside.root, "secret"), join(r, "escape"));
  symlinkSync("hello.txt", join(r, "inside-link"));
  mkdirSync(join(r, ".pxeboot"), { recursive: true });
  writeFileSync(join(r, ".pxeboot/state"), "state\n");
  chmodSync(join(r, ".pxeboot/state"), 0o644);
  symlinkSync(".pxeboot/state", join(r, "state-link"));
  srv = await startWith((port) => [BINARY, "serve", "--drain-timeout", "1", "--root", r, "--address", "127.0.0.1", "--port", String(port), "--http", `127.0.0.1:${port}`, "--deny", "127.0.0.9", "--metrics", `127.0.0.1:${port + 1}`]);
});

afterAll(async () => {
  await srv?.stop();
  tree?.cleanup();
  outside?.cleanup();
});

describe("serve --http: what HTTP/1.1 asks of a file server", () => {
  test("GET: body, length, type and validators; one log line with the TFTP fields", async () => {
    const r = await curl("/hello.txt");
    expect(r.status).toBe(200);
    expect(r.body).toBe("hello over http\n");
    expect(header(r.headers, "content-length")).toBe("16");
    expect(header(r.headers, "content-type")).toMatch(/^text\/plain/);
    expect(header(r.headers, "etag")).toMatch(/^"[0-9a-f-]+"$/);
    expect(header(r.headers, "last-modified")).toMatch(/GMT$/);
    expect(header(r.headers, "accept-ranges")).toBe("bytes");
    await srv.waitForLog(/transfer ok client=127\.0\.0\.1:\d+ file=hello\.txt mode=http options="status=200" bytes=16 ms=\d+ rate=[\d.]+MB\/s outcome=ok/);
  });

  test("HEAD: the headers of GET and no body", async () => {
    const r = await curl("/images/initrd.img", ["-I", "-o", "/dev/null"]);
    expect(r.status).toBe(200);
    expect(header(r.headers, "content-length")).toBe(String(BIG));
    expect(header(r.headers, "content-type")).toBe("application/octet-stream");
    expect(r.body).toBe("");
  });

  test("a single range is 206 with Content-Range; past the end is 416", async () => {
    const r = await curl("/hello.txt", ["-r", "6-9"]);
    expect(r.status).toBe(206);
    expect(r.body).toBe("over");
    expect(header(r.headers, "content-range")).toBe("bytes 6-9/16");
    const tail = await curl("/hello.txt", ["-r", "-5"]);
    expect(tail.body).toBe("http\n");
    const bad = await curl("/hello.txt", ["-r", "100-200"]);
    expect(bad.status).toBe(416);
    expect(header(bad.headers, "content-range")).toBe("bytes */16");
  });

  test("If-None-Match and If-Modified-Since answer 304; a changed ETag does not", async () => {
    const first = await curl("/hello.txt");
    const etag = header(first.headers, "etag")!;
    expect((await curl("/hello.txt", ["-H", `If-None-Match: ${etag}`])).status).toBe(304);
    expect((await curl("/hello.txt", ["-H", `If-Modified-Since: ${header(first.headers, "last-modified")}`])).status).toBe(304);
    expect((await curl("/hello.txt", ["-H", 'If-None-Match: "stale"'])).status).toBe(200);
  });

  test("missing files and directories are 404 (no listings); other methods 405", async () => {
    expect((await curl("/nope.efi")).status).toBe(404);
    expect((await curl("/")).status).toBe(404);
    expect((await curl("/images")).status).toBe(404);
    expect((await curl("/images/")).status).toBe(404);
    const post = await curl("/hello.txt", ["-X", "POST", "-d", "x"]);
    expect(post.status).toBe(405);
    expect(header(post.headers, "allow")).toBe("GET, HEAD");
  });
});

describe("serve --http: the same rules as TFTP", () => {
  test("traversal attempts never leave the root", async () => {
    const attempts = [
      "/../../../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/images/..%2f..%2f..%2fetc/passwd",
      "//etc/passwd",
      "/%2fetc/passwd",
      "/..\\..\\etc\\passwd",
      "/%5c..%5cetc%5cpasswd",
      "/hello.txt%00.efi",
      "/%00",
      `/..${outside.root}/secret`,
      `/${outside.root.split("/").map(() => "..").join("/")}${outside.root}/secret`,
      "/a%zz",
    ];
    for (const p of attempts) {
      const r = await curl(p);
      expect({ p, ok: [400, 403, 404].includes(r.status) }).toEqual({ p, ok: true });
      expect(r.body).not.toContain("root:");
      expect(r.body).not.toContain("SECRET");
    }
    // What reaches the decoder is refused, not resolved; the rest Bun's URL parser already folded into the root.
    expect((await curl("/%2fetc/passwd")).status).toBe(403);
    expect((await curl("/hello.txt%00.efi")).status).toBe(400);
    // Repeated slashes fold (shim's "//grubaa64.efi"): "//etc/passwd" is etc/passwd under the root, absent.
    expect((await curl("//etc/passwd")).status).toBe(404);
  });

  test("symlinks: inside the root followed, out of it or into the state directory refused", async () => {
    expect((await curl("/inside-link")).body).toBe("hello over http\n");
    const escape = await curl("/escape");
    expect(escape.status).toBe(403);
    expect(escape.body).not.toContain("SECRET");
    expect((await curl("/state-link")).status).toBe(403);
  });

  test("the state directory and files not readable by everyone are refused", async () => {
    expect((await curl("/.pxeboot/state")).status).toBe(403);
    expect((await curl("/.pxeboot/")).status).toBe(404);
    const priv = await curl("/private.bin");
    expect(priv.status).toBe(403);
    expect(priv.body).not.toContain("owner only");
    await srv.waitForLog(/file=private\.bin mode=http options="status=403".*not readable by everyone/);
  });

  test("--deny keeps a client out; others are served", async () => {
    expect((await curl("/hello.txt", ["--interface", "127.0.0.9"])).status).toBe(403);
    expect((await curl("/hello.txt", ["--interface", "127.0.0.8"])).status).toBe(200);
  });
});

describe("serve --http: large files and many clients", () => {
  const tmp = () => join(outside.root, `dl-${Math.random().toString(36).slice(2)}`);

  test("a 64 MiB file arrives whole (sha256) and is logged with its size", async () => {
    const out = tmp();
    const r = await run(["curl", "-sf", "-o", out, url("/images/initrd.img")], 60_000);
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(bigSha);
    await srv.waitForLog(new RegExp(`file=images/initrd\\.img mode=http options="status=200" bytes=${BIG} `));
  });

  test("20 clients at once all get the whole file", async () => {
    const outs = Array.from({ length: 20 }, tmp);
    const results = await Promise.all(outs.map((o) => run(["curl", "-sf", "-o", o, url("/images/initrd.img")], 120_000)));
    expect(results.map((r) => r.code)).toEqual(outs.map(() => 0));
    for (const o of outs) expect(await sha256File(o)).toBe(bigSha);
  });

  test("a client that hangs up mid-file is logged as failed with the bytes it got", async () => {
    await run(["curl", "-s", "--limit-rate", "2M", "-m", "1", "-o", "/dev/null", "--interface", "127.0.0.7", url("/images/initrd.img")], 10_000);
    const line = await srv.waitForLog(/transfer failed client=127\.0\.0\.7:\d+ file=images\/initrd\.img .*bytes=\d+ .*reason="client closed the connection"/);
    const bytes = Number(/bytes=(\d+)/.exec(line)![1]);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(BIG);
  });
});

describe("serve --http in the metrics", () => {
  test("responses count as read transfers, their bytes as bytes sent, a denied client as denied", async () => {
    const text = await (await fetch(`http://127.0.0.1:${srv.port + 1}/metrics`)).text();
    // Summed over the workers (each labels its own samples).
    const total = (name: string, labels = "") =>
      text
        .split("\n")
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .filter((l) => l.replace(/worker="\d+",?/, "").includes(labels))
        .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    expect(total("pxeboot_transfers_total", 'direction="read",outcome="ok"')).toBeGreaterThanOrEqual(22);
    expect(total("pxeboot_transfers_total", 'direction="read",outcome="error"')).toBeGreaterThanOrEqual(10);
    expect(total("pxeboot_sent_bytes_total")).toBeGreaterThanOrEqual(21 * BIG);
    expect(total("pxeboot_requests_denied_total")).toBeGreaterThanOrEqual(1);
  });
});

describe("install-once over HTTP", () => {
  const entry = (hex: string) => pathExists(join(tree.root, "pxelinux.cfg", hex));

  test("HEAD and a range of the marker leave the host's entry in place", async () => {
    expect((await curl("/Kickstart_end", ["-I", "-o", "/dev/null", "--interface", "127.0.0.42"])).status).toBe(200);
    expect((await curl("/Kickstart_end", ["-r", "0-0", "--interface", "127.0.0.43"])).status).toBe(206);
    await srv.waitForLog(/install marker fetch did not complete.*host=127\.0\.0\.43/);
    await Bun.sleep(200);
    expect(entry("7F00002A")).toBe(true);
    expect(entry("7F00002B")).toBe(true);
  });

  test("a complete GET of the marker switches the host back to local boot", async () => {
    expect(entry("7F000029")).toBe(true);
    const r = await curl("/Kickstart_end", ["--interface", "127.0.0.41"]);
    expect(r.status).toBe(200);
    expect(await eventually(() => !entry("7F000029"))).toBe(true);
    await srv.waitForLog(/installed: netboot entries removed.*host=127\.0\.0\.41 /);
    expect(await pxeboot("host", "which", "127.0.0.41", "--root", tree.root)).toContain("boots pxelinux.cfg/default\n");
    expect(entry("7F00002A")).toBe(true); // another host: untouched
    expect(readFileSync(join(tree.root, "pxelinux.cfg/default"), "utf8").length).toBeGreaterThan(0);
  });
});

describe("serve --http and SIGHUP", () => {
  test("--allow/--deny are re-read for HTTP too; a changed --http is named as needing a restart", async () => {
    const config = join(outside.root, "pxeboot.toml");
    const write = (httpPort: number, deny: string[]) =>
      writeFileSync(config, `root = "${tree.root}"\naddress = "127.0.0.1"\nport = ${httpPort}\nhttp = "127.0.0.1:${httpPort}"\ndeny = ${JSON.stringify(deny)}\n`);
    let port = 0;
    const hup = await startWith((p) => {
      port = p;
      write(p, []);
      return [BINARY, "serve", "--drain-timeout", "1", "--config", config];
    });
    try {
      const status = async () => (await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.3", `http://127.0.0.1:${port}/hello.txt`])).stdout;
      expect(await status()).toBe("200");
      write(port + 1, ["127.0.0.3"]);
      hup.proc.kill("SIGHUP");
      await hup.waitForLog(/SIGHUP: these settings change only with a restart.*keys=.*http/);
      let last = "";
      for (let i = 0; i < 50 && last !== "403"; i++) {
        last = await status();
        if (last !== "403") await Bun.sleep(100);
      }
      expect(last).toBe("403"); // still on the old port: --http changes only with a restart
    } finally {
      await hup.stop();
    }
  });
});

