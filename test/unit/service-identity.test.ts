/** Who `serve` runs as: the decision from flags and the starting uid, without starting a server. */
import { describe, expect, test } from "bun:test";
import { DEFAULT_USERS, parseOwner, serviceIdentity } from "../../src/daemon/privileges.ts";
import { UsageError } from "../../src/usage-error.ts";

describe("service identity", () => {
  test("started as root with no flag: drops to tftp where it exists, else nobody", () => {
    const id = serviceIdentity(undefined, undefined, 0);
    expect(DEFAULT_USERS).toContain(id.drop!.name);
    expect(id.drop!.uid).not.toBe(0);
    expect(id.warning).toBeUndefined();
  });

  test("--user and --group name the identity; the group defaults to the user's primary group", () => {
    expect(serviceIdentity("nobody", undefined, 0).drop).toMatchObject({ name: "nobody", uid: 65534, gid: 65534 });
    expect(serviceIdentity("nobody", "root", 0).drop).toMatchObject({ uid: 65534, gid: 0 });
    expect(serviceIdentity("1234", undefined, 0).drop).toMatchObject({ uid: 1234, gid: 1234 });
  });

  test("staying root takes --user root, and is warned about", () => {
    const id = serviceIdentity("root", undefined, 0);
    expect(id.drop).toBeUndefined();
    expect(id.warning).toContain("running as root");
  });

  test("started unprivileged: stays as it is; asking to switch is a usage error naming the fix", () => {
    expect(serviceIdentity(undefined, undefined, 1000)).toEqual({});
    expect(() => serviceIdentity("nobody", undefined, 1000)).toThrow(UsageError);
    expect(() => serviceIdentity(undefined, "nogroup", 1000)).toThrow(/leave them out/);
  });

  test("unknown users and groups are usage errors", () => {
    expect(() => serviceIdentity("no-such-user-here", undefined, 0)).toThrow(/no such user 'no-such-user-here'/);
    expect(() => serviceIdentity("nobody", "no-such-group-here", 0)).toThrow(/no such group/);
    expect(() => parseOwner("a:b:c", "--owner")).toThrow(/USER or USER:GROUP/);
  });
});
