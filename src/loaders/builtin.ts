/**
 * The boot loaders built into the executable: their manifest (assets/loaders/manifest.json) and
 * their bytes (embedded by `bun build --compile`, read from the source tree under `bun run`).
 * `init` writes these unless told to copy the system's packages (`--loaders system`).
 */
import { readFileSync } from "node:fs";
import manifestJson from "../../assets/loaders/manifest.json";
import { EMBEDDED_FILES } from "./embedded-files.ts";
import type { LoaderManifest, ManifestEntry } from "./manifest-types.ts";

export const BUILTIN_MANIFEST: LoaderManifest = manifestJson;

const BY_FILE = new Map(BUILTIN_MANIFEST.files.map((e) => [e.file, e]));

export function builtinEntry(file: string): ManifestEntry | undefined {
  return BY_FILE.get(file);
}

/** The built-in bytes of `file` (a name in the tree); throws for a name that is not built in. */
export function builtinBytes(file: string): Buffer {
  const path = EMBEDDED_FILES[file];
  if (path === undefined) throw new Error(`${file} is not a built-in loader`);
  return readFileSync(path);
}

export function sha256Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}
