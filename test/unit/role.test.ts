import { describe, expect, test } from "bun:test";
import { roleOf } from "../../src/daemon/role.ts";

describe("the process's role, from the environment its parent gave it", () => {
  test("no variable: the primary", () => {
    expect(roleOf({ PATH: "/usr/bin" })).toEqual({ kind: "primary" });
  });

  test("a worker knows its number and the port its primary bound", () => {
    expect(roleOf({ PXEBOOT_WORKER: "3", PXEBOOT_PORT: "6969" })).toEqual({ kind: "worker", number: 3, primaryPort: 6969 });
    expect(roleOf({ PXEBOOT_WORKER: "2" })).toEqual({ kind: "worker", number: 2, primaryPort: undefined });
  });

  test("the boot-control process gets the configuration the server passed", () => {
    expect(roleOf({ PXEBOOT_ROLE: "switch", PXEBOOT_SWITCH: '{"root":"/srv/tftp"}' })).toEqual({ kind: "boot-control", config: '{"root":"/srv/tftp"}' });
  });
});
