/** `pxeboot status` takes what serve's --metrics took, or a base URL, and scrapes /metrics. */
import { describe, expect, test } from "bun:test";
import { metricsUrl } from "../../src/cli/status.ts";

describe("status: the URL from what was typed", () => {
  test.each([
    ["9169", "http://127.0.0.1:9169/metrics"],
    ["127.0.0.1:9169", "http://127.0.0.1:9169/metrics"],
    ["0.0.0.0:9169", "http://0.0.0.0:9169/metrics"],
    ["[::1]:9169", "http://[::1]:9169/metrics"],
    ["::1:9169", "http://[::1]:9169/metrics"],
    ["http://10.0.0.5:9169", "http://10.0.0.5:9169/metrics"],
    ["http://10.0.0.5:9169/", "http://10.0.0.5:9169/metrics"],
    ["http://10.0.0.5:9169/metrics", "http://10.0.0.5:9169/metrics"],
    ["https://proxy.example/pxeboot/metrics", "https://proxy.example/pxeboot/metrics"],
  ])("%p → %p", (given, url) => {
    expect(metricsUrl(given)).toBe(url);
  });
});
