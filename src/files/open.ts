/**
 * A confined file as a FileSource in the requested mode, through the shared cache. Bytes come
 * from the descriptor confine() checked, never from the name again.
 */
import { closeSync, readFileSync } from "node:fs";
import { tooLargeForNetascii } from "../protocol/errors.ts";
import { toNetascii } from "../protocol/netascii.ts";
import type { TransferMode } from "../protocol/types.ts";
import type { FileCache } from "./cache.ts";
import type { ConfinedFile } from "./confine.ts";
import { FdSource, MemorySource, type FileSource } from "./source.ts";

/** Netascii is converted in memory; anything this big is not a text file a boot loader wants. */
const NETASCII_MAX_BYTES = 64 * 1024 * 1024;

/** Takes `file.fd`: the source owns it from here (closed at once when memory serves), refused or not. */
export function openSource(file: ConfinedFile, mode: TransferMode, cache: FileCache): FileSource {
  try {
    if (mode === "netascii") {
      if (file.stats.size > NETASCII_MAX_BYTES) throw tooLargeForNetascii();
      const key = `${file.real}\0netascii`;
      let bytes = cache.get(key, file.stats);
      if (!bytes) {
        bytes = toNetascii(readFileSync(file.fd));
        cache.put(key, file.stats, bytes);
      }
      closeSync(file.fd);
      return new MemorySource(bytes);
    }
    const cached = cache.get(file.real, file.stats);
    if (!cached) return new FdSource(file.fd, file.stats.size, cache.warm(file.real, file.stats, file.fd));
    closeSync(file.fd);
    return new MemorySource(cached);
  } catch (err) {
    closeSync(file.fd);
    throw err;
  }
}
