/**
 * The upload flags of `pxeboot serve` (--create, --writable, --overwrite, --upload-max-mb) as
 * ServerConfig fields, validated: each a usage error naming the fix, never a surprise at the
 * first upload. Whether a --writable directory exists is the server's check at start-up.
 */
import { isAbsolute, relative, resolve } from "node:path";
import type { ServerConfig } from "../server/types.ts";
import { UsageError } from "./args.ts";
import type { Typed } from "../config/schema.ts";

export type UploadConfig = Pick<ServerConfig, "create" | "writable" | "overwrite" | "uploadMaxBytes">;

/** Uploads as ServerConfig fields (validate.ts has said that shaping them needs --create). */
export function uploadConfig(v: Pick<Typed, "create" | "writable" | "overwrite" | "upload-max-mb" | "root">): UploadConfig {
  if (!v.create) return { create: false };
  return {
    create: true,
    writable: v.writable.map((d) => rootRelative(d, v.root)),
    overwrite: v.overwrite,
    uploadMaxBytes: v["upload-max-mb"] * 1024 * 1024,
  };
}

/** A --writable directory as a path relative to the root ("" for the root itself). */
export function rootRelative(dir: string, root: string): string {
  const rel = relative(resolve(root), resolve(resolve(root), dir));
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel))
    throw new UsageError(`--writable ${dir} is outside the root ${root}: name a directory inside it (relative to the root, or absolute)`);
  return rel;
}
