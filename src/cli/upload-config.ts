/**
 * The upload flags of `pxeboot serve` (--create, --writable, --overwrite, --upload-max-mb) as
 * ServerConfig fields, validated: each a usage error naming the fix, never a surprise at the
 * first upload. Whether a --writable directory exists is the server's check at start-up.
 */
import { isAbsolute, relative, resolve } from "node:path";
import type { ServerConfig } from "../server/types.ts";
import { intArg, repeatedFlag, UsageError } from "./args.ts";

export interface UploadArgs {
  create?: boolean;
  writable?: string;
  overwrite?: boolean;
  "upload-max-mb"?: string;
}

export type UploadConfig = Pick<ServerConfig, "create" | "writable" | "overwrite" | "uploadMaxBytes">;

/** `rawArgs` for --writable, which may repeat (citty keeps only the last). */
export function uploadConfig(args: UploadArgs, rawArgs: string[], root: string): UploadConfig {
  const listed = repeatedFlag(rawArgs, ["writable"], "uploads");
  const dirs = listed.length > 0 ? listed : args.writable ? [args.writable] : [];
  const maxMb = args["upload-max-mb"] === undefined ? 0 : intArg("upload-max-mb", args["upload-max-mb"], 0, 1_048_576);
  if (!args.create) {
    const given = [dirs.length > 0 && "--writable", args.overwrite && "--overwrite", args["upload-max-mb"] !== undefined && "--upload-max-mb"].filter(Boolean);
    if (given.length > 0) throw new UsageError(`${given.join(", ")} shape uploads, which are off: add --create to accept them`);
    return { create: false };
  }
  return {
    create: true,
    writable: dirs.map((d) => rootRelative(d, root)),
    overwrite: !!args.overwrite,
    uploadMaxBytes: maxMb * 1024 * 1024,
  };
}

/** A --writable directory as a path relative to the root ("" for the root itself). */
export function rootRelative(dir: string, root: string): string {
  const rel = relative(resolve(root), resolve(resolve(root), dir));
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel))
    throw new UsageError(`--writable ${dir} is outside the root ${root}: name a directory inside it (relative to the root, or absolute)`);
  return rel;
}
