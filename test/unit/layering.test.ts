/**
 * The architecture as a test: which folder of src/ may import which. The rules are written once,
 * here; README's "Layout of the code" states them in prose. A new edge that breaks them fails
 * with the file and the import, so the structure a reader relies on keeps holding.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const ASSETS = resolve(import.meta.dir, "../../assets/loaders");

/** Top-level folders of src/; a file directly in src/ (log.ts, libc.ts) is "shared". */
type Layer = "protocol" | "transfer" | "files" | "records" | "server" | "http" | "dhcp" | "loaders" | "layout" | "boots" | "client" | "bench" | "config" | "daemon" | "cli" | "shared";

/** For each layer, the layers it may import besides itself. */
const MAY_IMPORT: Record<Layer, Layer[]> = {
  protocol: [],
  transfer: ["protocol"],
  files: ["protocol", "shared"],
  // The built-in boot loaders: their manifest and embedded bytes, and comparing a tree with them.
  loaders: ["shared"],
  layout: ["protocol", "files", "loaders", "shared"],
  client: ["protocol", "transfer", "files", "shared"],
  // What a finished transfer is (the record, its observers, request events), whoever made it.
  records: ["protocol"],
  server: ["protocol", "transfer", "files", "records", "shared"],
  // The HTTP side reuses the server's rules (client filter, transfer log), never the reverse; the
  // record types it shares with the server come from records/, not from server/.
  http: ["protocol", "files", "records", "server", "shared"],
  bench: ["protocol", "transfer", "client", "files", "shared"],
  // Boot records fold transfer records per host (keyed as layout's MAC lookup says).
  boots: ["protocol", "files", "records", "layout", "shared"],
  // The proxy DHCP reads the tree as layout writes it and sets sockets up as the server does.
  dhcp: ["layout", "server", "shared"],
  // The settings' rows, their sources and the one validation: low, so every command may read them.
  // server only for the parsers of its own values (CIDR blocks, remap rules) and its types.
  config: ["protocol", "files", "server", "layout", "shared"],
  // The running server as a process: start-up, workers and their IPC, privileges, pidfile,
  // signals and reload, drain, the metrics and HTTP listeners. It takes settings already
  // resolved (typed by config/), so it never reads the command line (cli/ calls it, never the reverse).
  daemon: ["config", "protocol", "transfer", "files", "records", "server", "http", "dhcp", "loaders", "layout", "boots", "shared"],
  cli: ["config", "protocol", "transfer", "files", "records", "server", "http", "dhcp", "loaders", "layout", "boots", "client", "bench", "daemon", "shared"],
  shared: ["shared"],
};

/**
 * Inside server/, its parts: each subfolder may import the parts listed (and other layers as
 * server may); none imports the files on top (server.ts, open-transfer.ts, types.ts), which
 * compose the parts.
 */
type ServerPart = "admission" | "requests" | "offers" | "io" | "observe";
const PART_MAY_IMPORT: Record<ServerPart, ServerPart[]> = {
  // The admission queue, --allow/--deny, token buckets, the open-file limit.
  admission: [],
  // What a datagram on the request port means, and the admin's rules over a request (remap, --refuse).
  requests: ["admission"],
  // What a read is offered: the ladder, the path MTU, picky clients, --quirks (CIDRs as the client filter parses them).
  offers: ["admission"],
  // Sockets and the running transfer: shared transfer ports (their stranger budget is a token bucket), sessions, timers.
  io: ["admission"],
  // Metrics, the transfer log, summaries of noisy lines.
  observe: [],
};
const SERVER = join(SRC, "server");

/** The part of server/ a file is in; "top" for the files directly in server/; undefined outside it. */
function serverPartOf(file: string): ServerPart | "top" | undefined {
  if (!file.startsWith(SERVER + "/")) return undefined;
  const rel = relative(SERVER, file);
  if (!rel.includes("/")) return "top";
  const part = rel.split("/")[0]!;
  if (!(part in PART_MAY_IMPORT)) throw new Error(`src/server/${rel}: part '${part}' has no rule; add one to this test`);
  return part as ServerPart;
}

function layerOf(file: string): Layer {
  const rel = relative(SRC, file);
  const top = rel.includes("/") ? rel.split("/")[0]! : "shared";
  if (!(top in MAY_IMPORT)) throw new Error(`src/${rel}: folder '${top}' has no layering rule; add one to this test`);
  return top as Layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.ts$/.test(n) ? [p] : [];
  });
}

/** Relative imports of a file, static and dynamic, type-only included (a type edge is an edge). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs.filter((s) => s.startsWith("."));
}

describe("layering of src/", () => {
  test("the import scanner sees static, type-only, side-effect and dynamic imports", () => {
    const text = [
      'import { a } from "../protocol/x.ts";',
      'import type { B } from "./y.ts";',
      'export { c } from "../files/z.ts";',
      'import "../log.ts";',
      'const m = await import("../cli/args.ts");',
      'import { readFileSync } from "node:fs";',
    ].join("\n");
    expect(importsOf(text)).toEqual(["../protocol/x.ts", "./y.ts", "../files/z.ts", "../log.ts", "../cli/args.ts"]);
  });

  test("every import follows the rules", () => {
    const broken: string[] = [];
    for (const file of sources(SRC)) {
      const from = layerOf(file);
      for (const spec of importsOf(readFileSync(file, "utf8"))) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(SRC + "/")) {
          // Outside src/, cli and daemon may read package.json (the version) and loaders the built-in loaders' assets.
          const allowed = ((from === "cli" || from === "daemon") && target.endsWith("/package.json")) || (from === "loaders" && target.startsWith(ASSETS + "/"));
          if (!allowed) broken.push(`${relative(SRC, file)} imports ${spec} (outside src/)`);
          continue;
        }
        const to = layerOf(target);
        if (to !== from && !MAY_IMPORT[from].includes(to)) broken.push(`src/${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("inside server/, each part imports only the parts it may, and never the files on top", () => {
    const broken: string[] = [];
    for (const file of sources(SERVER)) {
      const from = serverPartOf(file)!;
      if (from === "top") continue;
      for (const spec of importsOf(readFileSync(file, "utf8"))) {
        const to = serverPartOf(resolve(dirname(file), spec));
        if (to === undefined || to === from) continue;
        if (to === "top" || !PART_MAY_IMPORT[from].includes(to)) broken.push(`src/${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("no file imports itself through others: no import cycle anywhere in src/", () => {
    const graph = new Map<string, string[]>();
    for (const file of sources(SRC))
      graph.set(file, importsOf(readFileSync(file, "utf8")).map((spec) => resolve(dirname(file), spec)).filter((t) => t.startsWith(SRC + "/")));
    // Depth-first, colouring files as they are entered and left: an edge to a file still being
    // entered closes a cycle, reported as the path around it.
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "open") cycles.push([...path.slice(path.indexOf(next)), file, next].map((f) => relative(SRC, f)).join(" -> "));
        else if (!state.has(next) && graph.has(next)) visit(next, [...path, file]);
      }
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
