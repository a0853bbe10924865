/**
 * What is served or written is what was checked (issue 20, item 2). A local user who may rename
 * entries in the root swaps a directory for a link out of the root, or into pxelinux.cfg/, as
 * fast as renameat2(RENAME_EXCHANGE) goes (rename-swapper.ts, its own process), while clients
 * read through it over TFTP (octet, netascii) and HTTP and upload into it. A check on the name
 * followed by a second walk of the name let 12-16 % of the reads return the file outside the
 * root, and uploads land outside it or in pxelinux.cfg/; resolved once on a held descriptor, not
 * one may. Each race runs a few seconds; some requests must succeed, so the race really ran.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { serviceIdentity } from "../../src/daemon/privileges.ts";
import { isTempName } from "../../src/files/temp-name.ts";
import { decodePacket, encodeAck, encodeData, encodeError, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, RawPeer, scratchRoot, startWith, type ServerProcess } from "./harness.ts";

const RACE_MS = 3000;
/** Requests in flight at once, per race. */
const CLIENTS = 4;
const SECRET = "OUTSIDE-SECRET";
/** Who the server runs as when started as root: the upload directories (and the outside one) are its to write. */
const serverUser = serviceIdentity(undefined, undefined, process.getuid?.() ?? -1).drop;
const SWAPPER = resolve(import.meta.dir, "rename-swapper.ts");

const tree = scratchRoot("race");
const outside = scratchRoot("race-outside");
const root = tree.root;
let srv: ServerProcess;

const giveToServer = (path: string) => serverUser && chownSync(path, serverUser.uid, serverUser.gid);

beforeAll(async () => {
  // rflip/ is a directory in the root; .rflip-swap a link to a directory outside it. The swapper
  // exchanges the two names, so rflip/f is "inside" one moment and the secret the next.
  mkdirSync(join(root, "rflip"));
  writeFileSync(join(root, "rflip/f"), "inside\n");
  mkdirSync(join(outside.root, "read"));
  writeFileSync(join(outside.root, "read/f"), `${SECRET}\n`);
  symlinkSync(join(outside.root, "read"), join(root, ".rflip-swap"));
  // Uploads: up/ (--writable) against a link out of the root, up2/ (--writable) against a link
  // to pxelinux.cfg/, which uploads never write. Both targets are the server's to write.
  for (const d of ["up", "up2", "pxelinux.cfg"]) {
    mkdirSync(join(root, d));
    giveToServer(join(root, d));
  }
  mkdirSync(join(outside.root, "write"));
  giveToServer(join(outside.root, "write"));
  symlinkSync(join(outside.root, "write"), join(root, ".up-swap"));
  symlinkSync("pxelinux.cfg", join(root, ".up2-swap"));
  // Every client here is 127.0.0.1: the per-client rate limit would only make the race slower.
  srv = await startWith((port) => [BINARY, "serve", "--drain-timeout", "1", "--root", root, "--address", "127.0.0.1", "--port", String(port), "--http", `127.0.0.1:${port}`, "--create", "--writable", "up", "--writable", "up2", "--per-client-rate", "0"]);
});

afterAll(async () => {
  await srv?.stop();
  tree.cleanup();
  outside.cleanup();
});

/** Runs the swapper on `pairs` for as long as `race` takes; it is killed whatever happens. */
async function whileSwapping<T>(pairs: [string, string][], race: () => Promise<T>): Promise<T> {
  const proc = Bun.spawn([process.execPath, SWAPPER, ...pairs.flat().map((p) => join(root, p))], { stdout: "pipe", stderr: "inherit" });
  try {
    const reader = proc.stdout.getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => undefined)]);
    if (!first?.value || !new TextDecoder().decode(first.value).includes("swapping")) throw new Error("the swapper did not start");
    reader.releaseLock();
    return await race();
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

/** `CLIENTS` loops of `request` for RACE_MS; every answer, in order of arrival. */
async function hammer<T>(request: (n: number) => Promise<T>): Promise<T[]> {
  const answers: T[] = [];
  const until = Date.now() + RACE_MS;
  let n = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < until) answers.push(await request(n++));
    }),
  );
  return answers;
}

/** A whole small file over TFTP from a fresh client port: its text, an ERROR code, or "timeout". */
async function tftpGet(name: string, mode: "octet" | "netascii"): Promise<string | number> {
  const peer = await RawPeer.open();
  try {
    peer.send(encodeRequest(Opcode.RRQ, name, mode), srv.port);
    let text = "";
    for (;;) {
      const got = await peer.recv(2000);
      if (!got) return "timeout";
      const p = decodePacket(got.data);
      if (p.op === Opcode.ERROR) return p.code;
      if (p.op !== Opcode.DATA) return `unexpected opcode ${p.op}`;
      text += Buffer.from(p.data).toString("latin1");
      peer.send(encodeAck(p.block), got.port);
      if (p.data.length < 512) return text;
    }
  } finally {
    peer.close();
  }
}

/** One upload over TFTP: "stored", "aborted" (one full block, then ERROR: the server removes its temporary file), an ERROR code or "timeout". */
async function tftpPut(name: string, abort: boolean): Promise<string | number> {
  const peer = await RawPeer.open();
  try {
    peer.send(encodeRequest(Opcode.WRQ, name, "octet"), srv.port);
    const ack0 = await peer.recv(2000);
    if (!ack0) return "timeout";
    const p = decodePacket(ack0.data);
    if (p.op === Opcode.ERROR) return p.code;
    peer.send(encodeData(1, abort ? new Uint8Array(512).fill(0x41) : new TextEncoder().encode("uploaded\n")), ack0.port);
    const ack1 = await peer.recv(2000);
    if (!ack1) return "timeout";
    if (abort) peer.send(encodeError(0, "user abort"), ack0.port);
    return abort ? "aborted" : "stored";
  } finally {
    peer.close();
  }
}

const tally = (answers: (string | number)[]) => ({
  secret: answers.filter((a) => typeof a === "string" && a.includes(SECRET)).length,
  inside: answers.filter((a) => typeof a === "string" && a.startsWith("inside")).length,
  total: answers.length,
});

/** Every name under `dir` (links not followed), as paths relative to it. */
function walk(dir: string, rel = ""): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? [r, ...walk(dir, r)] : [r];
  });
}

describe("a directory swapped for a link while clients read through it", () => {
  test.each(["octet", "netascii"] as const)("TFTP %s: never the file outside the root", async (mode) => {
    const got = tally(await whileSwapping([["rflip", ".rflip-swap"]], () => hammer(() => tftpGet("rflip/f", mode))));
    expect(got).toMatchObject({ secret: 0 });
    expect(got.inside).toBeGreaterThan(0);
  });

  test("HTTP: never the file outside the root", async () => {
    const url = `http://127.0.0.1:${srv.port}/rflip/f`;
    const get = async () => {
      try {
        return await (await fetch(url)).text();
      } catch (err) {
        return `failed: ${String(err)}`; // a body cut short counts as no answer
      }
    };
    const answers = await whileSwapping([["rflip", ".rflip-swap"]], () => hammer(get));
    const got = tally(answers);
    expect(got).toMatchObject({ secret: 0 });
    expect(got.inside).toBeGreaterThan(0);
  });
});

describe("an upload directory swapped for a link while clients upload into it", () => {
  test("nothing lands outside the root or in pxelinux.cfg/, and no temporary file is left anywhere", async () => {
    const answers = await whileSwapping(
      [
        ["up", ".up-swap"],
        ["up2", ".up2-swap"],
      ],
      () => hammer((n) => tftpPut(`${n % 2 ? "up2" : "up"}/u-${n}.txt`, n % 4 >= 2)),
    );
    // Aborted uploads are cleaned up after the client's ERROR: give the server a moment.
    const temps = () => [...walk(root), ...walk(outside.root)].filter((p) => isTempName(p.split("/").pop()!));
    await eventually(() => temps().length === 0, 3000);
    const stored = answers.filter((a) => a === "stored").length;
    const landed = walk(root).filter((p) => /(^|\/)u-\d+\.txt$/.test(p));
    const some = (names: string[]) => ({ count: names.length, first: names.slice(0, 3) });
    expect({
      outside: some(walk(join(outside.root, "write"))),
      inPxelinuxCfg: some(readdirSync(join(root, "pxelinux.cfg"))),
      temps: some(temps()),
    }).toEqual({ outside: some([]), inPxelinuxCfg: some([]), temps: some([]) });
    expect(stored).toBeGreaterThan(0);
    // Every stored upload is in up/ or up2/ (whichever name each real directory has now).
    expect(landed.length).toBe(stored);
  });
});
