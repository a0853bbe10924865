#!/usr/bin/env bun
/**
 * Entry point of the pxeboot executable. citty decides once, as it loads, whether help gets
 * colour escapes, and only from NO_COLOR=1, TERM or CI: so say NO_COLOR=1 before it loads when
 * the output is not a terminal (help piped into less or a file) or NO_COLOR is set at all.
 */
// Imports nothing itself: citty is not loaded by it.
import { role } from "../daemon/role.ts";

if (!process.stdout.isTTY || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "")) process.env.NO_COLOR = "1";
// The boot-control process a server started as root runs beside it (switch-process.ts): no CLI.
if (role.kind === "boot-control") (await import("../daemon/switch-process.ts")).runSwitchProcess(role.config);
else await import("./commands.ts");
export {};
