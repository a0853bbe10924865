/**
 * What a SIGHUP says: each setting that changed, by the name it was given under, old → new, as
 * applied or waiting for a restart; never a change left unsaid.
 */
import { describe, expect, test } from "bun:test";
import { changedSettings, reloadFields, reloadReport } from "../../src/cli/reload-diff.ts";
import { settingNames } from "../../src/cli/serve-config.ts";
import type { Settings } from "../../src/config/settings.ts";

const file = (entries: Record<string, string | boolean | string[]>): Settings =>
  new Map(Object.entries(entries).map(([k, value], i) => [k, { value, origin: { kind: "file" as const, file: "/etc/pxeboot.toml", line: i + 1 } }]));

describe("a reload's report", () => {
  test("--ipv4 added with no address given moves the listening addresses: it waits for a restart, named as written", () => {
    const given = changedSettings(file({ root: "/tftp" }), file({ root: "/tftp", ipv4: true }));
    const report = reloadReport(given, settingNames([]), settingNames(["addresses"]));
    expect(report).toEqual({ applied: [], waiting: [{ setting: "ipv4", from: undefined, to: "true" }] });
    expect(reloadFields("keys", report.waiting)).toEqual({ keys: "ipv4", ipv4: "(default) → true" });
  });

  test("with an IPv4 address given, --ipv4 changes nothing that runs: applied", () => {
    const given = changedSettings(file({ address: "127.0.0.1" }), file({ address: "127.0.0.1", ipv4: true }));
    expect(reloadReport(given, [], [])).toEqual({ applied: [{ setting: "ipv4", from: undefined, to: "true" }], waiting: [] });
  });

  test("a file's contents re-read (quirks) is named without values; a list shown comma-joined", () => {
    const given = changedSettings(file({ deny: ["10.0.0.5"] }), file({ deny: ["10.0.0.6", "10.0.0.7"] }));
    const report = reloadReport(given, settingNames(["deny", "quirks"]), []);
    expect(reloadFields("changed", report.applied)).toEqual({ changed: "deny,quirks", deny: "10.0.0.5 → 10.0.0.6,10.0.0.7" });
  });
});
