/**
 * The local attacker of rename-race.test.ts, as its own process: `bun rename-swapper.ts A B [C D …]`
 * exchanges each pair of names (renameat2 RENAME_EXCHANGE, so both always exist: one a directory,
 * the other a link) as fast as it can, until killed. Prints one line when it starts swapping.
 */
import { dlopen, FFIType } from "bun:ffi";

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const { symbols: libc } = dlopen("libc.so.6", {
  renameat2: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
});
const names = process.argv.slice(2).map((p) => Buffer.from(p + "\0"));
if (names.length === 0 || names.length % 2 !== 0) throw new Error("usage: rename-swapper.ts A B [C D …]");
console.log("swapping");
for (;;)
  for (let i = 0; i < names.length; i += 2)
    if (libc.renameat2(AT_FDCWD, names[i]!, AT_FDCWD, names[i + 1]!, RENAME_EXCHANGE) !== 0) throw new Error(`renameat2 failed on ${process.argv[2 + i]}`);
