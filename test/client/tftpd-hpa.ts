/**
 * A tftpd-hpa server for tests: in.tftpd in the foreground (-L) on a random loopback high port,
 * no daemon config. Needs the tftpd-hpa package (.ci/run installs it).
 */
import { spawn, type Subprocess } from "bun";
import { existsSync } from "node:fs";

const found = ["/usr/sbin/in.tftpd", "/sbin/in.tftpd"].find((p) => existsSync(p));
/** The server binary, when it can run here: in.tftpd -s chroots, which needs root. */
export const IN_TFTPD = process.getuid?.() === 0 ? found : undefined;

export interface Tftpd {
  port: number;
  stop(): void;
}

/** in.tftpd exits at once when its port is taken: try a few random ports. */
export async function startTftpd(root: string): Promise<Tftpd> {
  for (let i = 0; i < 10; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const p: Subprocess = spawn([IN_TFTPD!, "-L", "-s", root, "-a", `127.0.0.1:${port}`, "-u", "root"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    const early = await Promise.race([p.exited, Bun.sleep(300).then(() => null)]);
    if (early === null) return { port, stop: () => p.kill() };
  }
  throw new Error("in.tftpd did not start");
}

/** Runs pxeboot with `args`, collecting stdout (bytes), stderr and the exit status. */
export async function runPxeboot(command: string[], args: string[]) {
  const p = spawn([...command, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).arrayBuffer(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout: new Uint8Array(stdout), stderr, code };
}
