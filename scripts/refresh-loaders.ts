/**
 * Refreshes the boot loaders built into pxeboot (assets/loaders/) from Debian's packages and
 * rewrites their manifest and the module that embeds them.
 *
 *   bun scripts/refresh-loaders.ts            newest packages of the suite (bookworm)
 *   bun scripts/refresh-loaders.ts --check    download again and say whether anything changed
 *
 * It needs apt-get and dpkg-deb, and nothing of the host's apt state: a private apt directory
 * holds the suite's package lists for amd64 and arm64, so the host's sources, architectures and
 * installed packages play no part. Which file comes from which package is LOADER_FILES' first
 * Debian source (src/layout/loaders.ts), the same table `init --loaders system` copies from.
 */
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { LOADER_FILES } from "../src/layout/loaders.ts";
import { sourceUrls, type LoaderManifest, type ManifestEntry, type SourcePackage } from "../src/loaders/manifest-types.ts";

const SUITE = "bookworm";
const ARCHIVES = [
  ["http://deb.debian.org/debian", `${SUITE} ${SUITE}-updates`],
  ["http://deb.debian.org/debian-security", `${SUITE}-security`],
] as const;
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Licence of each corresponding source package (its debian/copyright's main licence). */
const LICENSES: Record<string, string> = {
  syslinux: "GPL-2.0-or-later",
  ipxe: "GPL-2.0-or-later",
  shim: "BSD-2-Clause",
  grub2: "GPL-3.0-or-later",
  "gnu-efi": "BSD-3-Clause",
};

const REPO = resolve(import.meta.dir, "..");
const ASSETS = join(REPO, "assets/loaders");
const EMBED_MODULE = join(REPO, "src/loaders/embedded-files.ts");

function run(cmd: string[], cwd?: string): string {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

function aptOptions(dir: string): string[] {
  const o = (k: string, v: string) => ["-o", `${k}=${v}`];
  return [
    ...o("Dir::State", dir),
    ...o("Dir::State::status", join(dir, "status")),
    ...o("Dir::Cache", join(dir, "cache")),
    ...o("Dir::Etc::SourceList", join(dir, "sources.list")),
    ...o("Dir::Etc::SourceParts", join(dir, "sources.list.d")),
    ...o("APT::Architecture", "amd64"),
    "-o", "APT::Architectures::=amd64",
    "-o", "APT::Architectures::=arm64",
    ...o("Debug::NoLocking", "1"),
    // Downloads land in a directory only we can write: don't hand them to the _apt user.
    ...o("APT::Sandbox::User", "root"),
  ];
}

/** "shim-signed:arm64" → the .deb for arm64; plain names resolve to amd64 (or all). */
function download(dir: string, packages: string[]): Map<string, string> {
  for (const d of ["lists/partial", "cache/archives/partial", "sources.list.d", "debs"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "status"), "");
  writeFileSync(
    join(dir, "sources.list"),
    ARCHIVES.map(([uri, suites]) => `deb [arch=amd64,arm64 signed-by=${KEYRING}] ${uri} ${suites} main\n`).join(""),
  );
  const opts = aptOptions(dir);
  run(["apt-get", ...opts, "-q", "update"]);
  const debs = join(dir, "debs");
  const out = new Map<string, string>();
  for (const pkg of packages) {
    const qualified = pkg.includes(":") ? pkg : `${pkg}:amd64`;
    const before = new Set(run(["ls", debs]).split("\n").filter(Boolean));
    run(["apt-get", ...opts, "-q", "download", qualified], debs);
    const got = run(["ls", debs]).split("\n").filter((f) => f && !before.has(f));
    if (got.length !== 1) throw new Error(`apt-get download ${qualified}: expected one .deb, got ${got.join(", ") || "none"}`);
    out.set(pkg, join(debs, got[0]!));
  }
  return out;
}

function field(deb: string, name: string): string {
  return run(["dpkg-deb", "-f", deb, name]).trim();
}

/** The packages whose source is the file's corresponding source: Built-Using, else Source. */
function sourcesOf(deb: string, binaryName: string, version: string): SourcePackage[] {
  const builtUsing = field(deb, "Built-Using");
  const list: { name: string; version: string }[] = [];
  if (builtUsing) {
    for (const part of builtUsing.split(",")) {
      const m = /^\s*([a-z0-9.+-]+)\s*\(\s*=\s*([^)\s]+)\s*\)\s*$/.exec(part);
      if (!m) throw new Error(`${deb}: cannot read Built-Using '${part}'`);
      list.push({ name: m[1]!, version: m[2]! });
    }
  }
  const source = field(deb, "Source");
  const sm = /^([a-z0-9.+-]+)(?:\s*\(([^)]+)\))?$/.exec(source);
  const own = sm ? { name: sm[1]!, version: sm[2] ?? version } : { name: binaryName, version };
  // A signed package's own source holds only signatures; the code is in what it was built using.
  const code = list.length && /-signed$/.test(own.name) ? list : [own, ...list];
  return code.map((s) => {
    const license = LICENSES[s.name];
    if (!license) throw new Error(`no licence known for source package ${s.name}: add it to LICENSES`);
    return { package: s.name, version: s.version, license, ...sourceUrls(s.name, s.version) };
  });
}

/** Follows a link inside the unpacked package (Debian's ipxe.efi points at /boot/ipxe.efi). */
function inPackage(root: string, path: string): string {
  let p = join(root, path);
  for (let i = 0; i < 8; i++) {
    if (!lstatSync(p).isSymbolicLink()) return p;
    const target = readlinkSync(p);
    p = target.startsWith("/") ? join(root, target) : resolve(dirname(p), target);
  }
  throw new Error(`${path}: too many links`);
}

function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** A valid identifier for the generated import of each file. */
function importName(dest: string): string {
  return "f_" + dest.replace(/[^A-Za-z0-9]/g, "_");
}

function embedModule(entries: ManifestEntry[]): string {
  const lines = [
    "// Generated by scripts/refresh-loaders.ts: do not edit. Bun embeds each file in the",
    "// executable under `bun build --compile` (the import is then a /$bunfs/ path).",
    ...entries.map((e) => `import ${importName(e.file)} from "../../assets/loaders/${e.file}" with { type: "file" };`),
    "",
    "/** Where each built-in loader's bytes can be read, by its name in the tree. */",
    "export const EMBEDDED_FILES: Readonly<Record<string, string>> = {",
    ...entries.map((e) => `  ${JSON.stringify(e.file)}: ${importName(e.file)},`),
    "};",
    "",
  ];
  return lines.join("\n");
}

function main(): void {
  const check = process.argv.includes("--check");
  const unknown = process.argv.slice(2).filter((a) => a !== "--check");
  if (unknown.length) {
    console.error(`refresh-loaders: unknown argument ${unknown[0]} (usage: bun scripts/refresh-loaders.ts [--check])`);
    process.exit(2);
  }
  const wanted = LOADER_FILES.map((l) => {
    const deb = l.sources.find((s) => s.distro === "Debian");
    if (!deb) throw new Error(`${l.dest}: no Debian source in LOADER_FILES`);
    return { dest: l.dest, package: deb.package, path: deb.path };
  });
  const dir = mkdtempSync(join(tmpdir(), "pxeboot-loaders-"));
  try {
    const debs = download(dir, [...new Set(wanted.map((w) => w.package))]);
    const unpacked = new Map<string, string>();
    for (const [pkg, deb] of debs) {
      const to = join(dir, "x", pkg.replace(":", "_"));
      mkdirSync(to, { recursive: true });
      run(["dpkg-deb", "-x", deb, to]);
      unpacked.set(pkg, to);
    }
    const entries: ManifestEntry[] = wanted.map((w) => {
      const deb = debs.get(w.package)!;
      const from = inPackage(unpacked.get(w.package)!, w.path);
      const data = readFileSync(from);
      const binary = field(deb, "Package");
      const version = field(deb, "Version");
      return {
        file: w.dest,
        package: binary,
        arch: field(deb, "Architecture"),
        version,
        path: w.path,
        size: data.length,
        sha256: sha256(data),
        sources: sourcesOf(deb, binary, version),
      };
    });
    const manifest: LoaderManifest = { suite: `Debian 12 (${SUITE})`, files: entries };
    const manifestText = JSON.stringify(manifest, null, 2) + "\n";
    if (check) {
      const old = readFileSync(join(ASSETS, "manifest.json"), "utf8");
      if (old === manifestText) console.log("built-in loaders are current");
      else {
        console.log("newer packages exist: run bun scripts/refresh-loaders.ts");
        process.exitCode = 1;
      }
      return;
    }
    rmSync(ASSETS, { recursive: true, force: true });
    mkdirSync(ASSETS, { recursive: true });
    for (const w of wanted) copyFileSync(inPackage(unpacked.get(w.package)!, w.path), join(ASSETS, w.dest));
    writeFileSync(join(ASSETS, "manifest.json"), manifestText);
    writeFileSync(EMBED_MODULE, embedModule(entries));
    for (const e of entries) console.log(`${e.file.padEnd(14)} ${e.package} ${e.version} ${e.arch} ${e.sha256.slice(0, 16)}…`);
    console.log(`wrote ${entries.length} files, assets/loaders/manifest.json and src/loaders/embedded-files.ts`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
