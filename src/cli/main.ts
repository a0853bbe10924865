#!/usr/bin/env bun
/** Entry point of the pxeboot executable: one sub-command per job, loaded on demand. */
import { defineCommand, runMain } from "citty";
import pkg from "../../package.json" with { type: "json" };

const main = defineCommand({
  meta: { name: "pxeboot", version: pkg.version, description: "TFTP server for PXE boot farms" },
  subCommands: {
    serve: () => import("./serve.ts").then((m) => m.default),
    "in.tftpd": () => import("./serve.ts").then((m) => m.inTftpd),
    config: () => import("./config.ts").then((m) => m.default),
    get: () => import("./get.ts").then((m) => m.default),
    init: () => import("./init.ts").then((m) => m.default),
    host: () => import("./host.ts").then((m) => m.default),
    doctor: () => import("./doctor.ts").then((m) => m.default),
    bench: () => import("./bench.ts").then((m) => m.default),
    demo: () => import("./demo.ts").then((m) => m.default),
    "systemd-unit": () => import("./systemd-unit.ts").then((m) => m.default),
  },
});

// `pxeboot host list | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

runMain(main);
