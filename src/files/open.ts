/** Opens a confined file as a FileSource in the requested mode, through the shared cache. */
import { readFileSync } from "node:fs";
import { fsPath } from "./bytes-path.ts";
import { tooLargeForNetascii } from "../protocol/errors.ts";
import { toNetascii } from "../protocol/netascii.ts";
import type { TransferMode } from "../protocol/types.ts";
import type { FileCache } from "./cache.ts";
import type { ConfinedFile } from "./confine.ts";
import { FdSource, MemorySource, type FileSource } from "./source.ts";

/** Netascii is converted in memory; anything this big is not a text file a boot loader wants. */
const NETASCII_MAX_BYTES = 64 * 1024 * 1024;

export function openSource(file: ConfinedFile, mode: TransferMode, cache: FileCache): FileSource {
  if (mode === "netascii") {
    if (file.stats.size > NETASCII_MAX_BYTES) throw tooLargeForNetascii();
    const key = `${file.real}\0netascii`;
    let bytes = cache.get(key, file.stats);
    if (!bytes) {
      bytes = toNetascii(readFileSync(fsPath(file.real)));
      cache.put(key, file.stats, bytes);
    }
    return new MemorySource(bytes);
  }
  const cached = cache.get(file.real, file.stats);
  if (cached) return new MemorySource(cached);
  return new FdSource(file.real, file.stats.size, cache.warm(file.real, file.stats));
}
