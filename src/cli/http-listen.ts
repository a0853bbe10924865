/** `serve --http [ADDR:]PORT`: where the HTTP side listens, parsed once with a fix in the error. */
import type { HttpListen } from "../http/http-server.ts";
import { intArg, UsageError } from "./args.ts";

/** "8080" (every address, IPv6 and IPv4), "10.0.0.1:8080", "[fd00::1]:8080". */
export function parseHttpListen(text: string): HttpListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--http needs [ADDR:]PORT (e.g. 8080 or 10.0.0.1:8080 or [fd00::1]:8080), got '${text}'`);
  return { address: m[1] ?? m[2] ?? "::", port: intArg("http", m[3]!, 0, 65535) };
}
