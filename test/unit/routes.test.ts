/** Route matching for the MTU cap: the kernel's tables as fixture text, no I/O. */
import { describe, expect, test } from "bun:test";
import { PathMtu, BlockSizeLimiter } from "../../src/server/offers/path-mtu.ts";
import { blockSizeForMtu, parseIpv4Routes, parseIpv6Routes, routeFor } from "../../src/server/offers/routes.ts";
import { createLogger } from "../../src/log.ts";

// A host with a default route on eth0, a /24 on eth0, a /16 on veth1 with a more specific /24
// inside it on br0, and a route with its own MTU.
const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
veth1\t0000010A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
br0\t0005010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
tun0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t1280\t0\t0
down0\t000010AC\t00000000\t0000\t0\t0\t0\t0000F0FF\t0\t0\t0
`;

const IPV6_ROUTE = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fd000000000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001    veth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

describe("route tables as text", () => {
  const v4 = parseIpv4Routes(ROUTE);
  const v6 = parseIpv6Routes(IPV6_ROUTE);

  test("IPv4 lines: host-order hex addresses and masks, routes that are not up are skipped", () => {
    expect(v4.map((r) => `${r.iface} ${r.block.network.join(".")}/${r.block.bits}`)).toEqual([
      "eth0 0.0.0.0/0",
      "eth0 192.0.2.0/24",
      "veth1 10.1.0.0/16",
      "br0 10.1.5.0/24",
      "tun0 192.168.0.0/16",
    ]);
    expect(v4[4]!.mtu).toBe(1280);
  });

  test("longest prefix wins, the default route catches the rest", () => {
    expect(routeFor("10.1.5.9", v4, v6)?.iface).toBe("br0");
    expect(routeFor("10.1.6.9", v4, v6)?.iface).toBe("veth1");
    expect(routeFor("192.0.2.77", v4, v6)).toEqual({ iface: "eth0", mtu: 0, family: 4, network: "192.0.2.0/24" });
    expect(routeFor("8.8.8.8", v4, v6)?.network).toBe("0.0.0.0/0");
  });

  test("IPv4-mapped IPv6 clients take the IPv4 route and header", () => {
    expect(routeFor("::ffff:10.1.5.9", v4, v6)).toMatchObject({ iface: "br0", family: 4 });
  });

  test("loopback addresses go out on lo whatever the tables say", () => {
    expect(routeFor("127.0.0.1", [], [])).toMatchObject({ iface: "lo", family: 4 });
    expect(routeFor("::1", [], [])).toMatchObject({ iface: "lo", family: 6 });
  });

  test("IPv6: longest prefix, our own addresses loop back, reject routes are skipped", () => {
    expect(routeFor("fd00:0:0:1::5", v4, v6)?.iface).toBe("veth1");
    expect(routeFor("fd00::9", v4, v6)).toMatchObject({ iface: "eth0", family: 6, network: "fd00:0:0:0:0:0:0:0/64" });
    expect(routeFor("fd00::2", v4, v6)?.iface).toBe("lo");
    expect(routeFor("2001:db8::1", v4, v6)?.network).toBe("0:0:0:0:0:0:0:0/0");
    expect(routeFor("2001:db8::1", v4, parseIpv6Routes(IPV6_ROUTE.split("\n").slice(4).join("\n")))).toBeUndefined();
  });

  test("no route, or no address at all: undefined", () => {
    expect(routeFor("10.9.9.9", v4.slice(1), v6)).toBeUndefined();
    expect(routeFor("not-an-ip", v4, v6)).toBeUndefined();
  });

  test("the block that fits: MTU less IP, UDP and TFTP headers", () => {
    expect(blockSizeForMtu(1500, 4)).toBe(1468);
    expect(blockSizeForMtu(1400, 4)).toBe(1368);
    expect(blockSizeForMtu(1400, 6)).toBe(1348);
    expect(blockSizeForMtu(65536, 4)).toBe(65504);
  });
});

function fakeSystem(files: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    read: (path: string) => {
      reads.push(path);
      return files[path];
    },
  };
}

describe("PathMtu: the tables read once per TTL, answers cached per network", () => {
  const files = {
    "/proc/net/route": ROUTE,
    "/proc/net/ipv6_route": IPV6_ROUTE,
    "/sys/class/net/eth0/mtu": "1500\n",
    "/sys/class/net/br0/mtu": "1400\n",
    "/sys/class/net/veth1/mtu": "9000\n",
    "/sys/class/net/tun0/mtu": "1500\n",
    "/sys/class/net/lo/mtu": "65536\n",
  };

  test("interface MTU, or the route's own when smaller", () => {
    const p = new PathMtu(fakeSystem(files).read);
    expect(p.limitFor("10.1.5.9", 0)).toEqual({ blockSize: 1368, iface: "br0", mtu: 1400 });
    expect(p.limitFor("192.168.3.4", 0)).toEqual({ blockSize: 1248, iface: "tun0", mtu: 1280 });
    expect(p.limitFor("127.0.0.1", 0)?.blockSize).toBe(65504);
    expect(p.limitFor("fd00:0:0:1::5", 0)?.blockSize).toBe(8948);
  });

  test("clients of one network cost one MTU read; the tables are read again after the TTL", () => {
    const sys = fakeSystem(files);
    const p = new PathMtu(sys.read, 30_000);
    for (let i = 1; i < 50; i++) p.limitFor(`10.1.5.${i}`, i);
    expect(sys.reads.filter((r) => r.includes("br0")).length).toBe(1);
    expect(sys.reads.filter((r) => r === "/proc/net/route").length).toBe(1);
    p.limitFor("10.1.5.1", 30_001);
    expect(sys.reads.filter((r) => r === "/proc/net/route").length).toBe(2);
  });

  test("unreadable tables or MTU files: no limit known, nothing capped", () => {
    const p = new PathMtu(fakeSystem({ "/proc/net/route": ROUTE }).read);
    expect(p.limitFor("10.1.5.9", 0)).toBeUndefined();
    const limiter = new BlockSizeLimiter(p);
    expect(limiter.ceiling({ address: "10.1.5.9", blockSizeMax: 65464, explicit: false, asked: 65464, now: 0 })).toBe(65464);
  });
});

describe("BlockSizeLimiter: the ceiling for one request", () => {
  function capture() {
    const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const base = createLogger({ level: "silent" });
    const log = {
      ...base,
      debug: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: "debug", msg, fields }),
      warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: "warn", msg, fields }),
    };
    return { lines, log };
  }
  const files = {
    "/proc/net/route": ROUTE,
    "/sys/class/net/br0/mtu": "1400\n",
    "/sys/class/net/eth0/mtu": "1500\n",
  };

  test("not given: capped to the path, and the cap logged at debug", () => {
    const { lines, log } = capture();
    const l = new BlockSizeLimiter(new PathMtu(fakeSystem(files).read), log);
    expect(l.ceiling({ address: "10.1.5.9", blockSizeMax: 65464, explicit: false, asked: 65464, now: 0 })).toBe(1368);
    expect(lines).toEqual([{ level: "debug", msg: "blksize capped to the path MTU", fields: { client: "10.1.5.9", asked: 65464, granted: 1368, iface: "br0", mtu: 1400 } }]);
    // A client asking less than fits is not capped, and nothing is logged.
    expect(l.ceiling({ address: "10.1.5.9", blockSizeMax: 65464, explicit: false, asked: 1024, now: 0 })).toBe(1368);
    expect(lines.length).toBe(1);
    // A lower --blksize-max stands as it is.
    expect(l.ceiling({ address: "10.1.5.9", blockSizeMax: 1024, explicit: true, asked: 65464, now: 0 })).toBe(1024);
  });

  test("given above the path's fit: it stands, and one warning per interface says fragments will go", () => {
    const { lines, log } = capture();
    const l = new BlockSizeLimiter(new PathMtu(fakeSystem(files).read), log);
    for (let i = 0; i < 3; i++) expect(l.ceiling({ address: "10.1.5.9", blockSizeMax: 1468, explicit: true, asked: 1468, now: 0 })).toBe(1468);
    expect(lines.length).toBe(1);
    expect(lines[0]!.level).toBe("warn");
    expect(lines[0]!.fields).toMatchObject({ iface: "br0", mtu: 1400, fits: 1368, blksizeMax: 1468 });
  });
});
