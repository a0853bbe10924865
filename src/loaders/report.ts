/** The text `pxeboot loaders` prints: what is built in, its licences, and how a tree stands. */
import type { LoaderManifest } from "./manifest-types.ts";
import type { TreeLoader } from "./tree-loaders.ts";

export function formatBuiltin(m: LoaderManifest): string {
  const lines = [`Built-in boot loaders (from ${m.suite}):`];
  const width = Math.max(...m.files.map((e) => e.file.length));
  for (const e of m.files)
    lines.push(`  ${e.file.padEnd(width)}  ${e.package} ${e.version} (${e.arch})  ${e.sources.map((s) => s.license).join(", ")}  sha256 ${e.sha256}`);
  return lines.join("\n");
}

/** Each source package once, with its licence and where its source is (GPL: "where the source is"). */
export function formatLicenses(m: LoaderManifest): string {
  const bySource = new Map<string, { license: string; sources: string; snapshot: string; files: string[] }>();
  for (const e of m.files)
    for (const s of e.sources) {
      const key = `${s.package} ${s.version}`;
      const seen = bySource.get(key) ?? { license: s.license, sources: s.sources, snapshot: s.snapshot, files: [] };
      seen.files.push(e.file);
      bySource.set(key, seen);
    }
  const lines = [`Licences of the built-in boot loaders (binaries from ${m.suite}, unmodified):`];
  for (const [key, s] of bySource) {
    lines.push(`  ${key}: ${s.license}`, `    files:  ${s.files.join(", ")}`, `    source: ${s.sources}`, `            ${s.snapshot}`);
  }
  lines.push("The manifest with every file's sha256 is assets/loaders/manifest.json in pxeboot's source.");
  return lines.join("\n");
}

export function formatTree(root: string, loaders: TreeLoader[]): string {
  const width = Math.max(...loaders.map((l) => l.entry.file.length));
  const lines = [`${root}:`];
  for (const l of loaders) {
    const what = l.state === "match" ? `matches the built-in ${l.entry.package} ${l.entry.version}` : l.state === "missing" ? "missing" : `differs from the built-in ${l.entry.package} ${l.entry.version}${l.older ? `: older (${l.older})` : ""}`;
    lines.push(`  ${l.state.padEnd(7)}  ${l.entry.file.padEnd(width)}  ${what}`);
  }
  const count = (s: string) => loaders.filter((l) => l.state === s).length;
  lines.push(`${count("match")} match, ${count("differs")} differ, ${count("missing")} missing`);
  return lines.join("\n");
}
