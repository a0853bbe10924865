/**
 * With --workers, which process gets a client's requests. The kernel's own SO_REUSEPORT choice
 * hashes address and port, so one host's requests from different ports land on different
 * workers, and whatever a worker keeps per client address (--per-client-max, --per-client-rate,
 * the admission queue's duplicate check, install-once's learned MACs) would see only part of
 * that host. A classic BPF program attached to the port's reuseport group picks the worker from
 * the client's address alone: a boot storm of many hosts still spreads over every worker, and
 * each host meets one worker, as if there were only one.
 */
import { ptr } from "bun:ffi";
import { setSocketOption } from "./sockopt.ts";

const SOL_SOCKET = 1;
const SO_ATTACH_REUSEPORT_CBPF = 51;

/** Classic BPF opcodes (linux/filter.h) and the offset of the network header (SKF_NET_OFF). */
const LD_B_ABS = 0x30;
const LD_W_ABS = 0x20;
const ALU_RSH_K = 0x74;
const ALU_MOD_K = 0x94;
const JMP_JEQ_K = 0x15;
const JMP_JA = 0x05;
const RET_A = 0x16;
const NET = 0xfff00000;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * The program: the IP version from the header's first byte; the source address's last 32 bits
 * (IPv4: bytes 12–15; IPv6: 20–23, which IPv4-mapped peers of a dual-stack socket never reach:
 * they arrive as IPv4); modulo the process count gives the index of the socket in the group, in
 * the order the processes bound it.
 */
export function steeringProgram(processes: number): Insn[] {
  return [
    { code: LD_B_ABS, jt: 0, jf: 0, k: NET + 0 },
    { code: ALU_RSH_K, jt: 0, jf: 0, k: 4 },
    { code: JMP_JEQ_K, jt: 2, jf: 0, k: 6 },
    { code: LD_W_ABS, jt: 0, jf: 0, k: NET + 12 },
    { code: JMP_JA, jt: 0, jf: 0, k: 1 },
    { code: LD_W_ABS, jt: 0, jf: 0, k: NET + 20 },
    { code: ALU_MOD_K, jt: 0, jf: 0, k: processes },
    { code: RET_A, jt: 0, jf: 0, k: 0 },
  ];
}

/** struct sock_filter[] as the kernel reads it: u16 code, u8 jt, u8 jf, u32 k, little-endian host. */
export function encodeProgram(insns: Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach((i, n) => {
    view.setUint16(n * 8, i.code, true);
    view.setUint8(n * 8 + 2, i.jt);
    view.setUint8(n * 8 + 3, i.jf);
    view.setUint32(n * 8 + 4, i.k >>> 0, true);
  });
  return out;
}

/**
 * Attaches the program to the reuseport group of `fd`. False when the kernel or libc would not
 * (then the kernel's own hash decides, as before).
 */
export function steerByClientAddress(fd: number, processes: number): boolean {
  if (fd < 0 || processes < 2) return false;
  const filter = encodeProgram(steeringProgram(processes));
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: 8-byte aligned pointer.
  const fprog = new DataView(new ArrayBuffer(16));
  fprog.setUint16(0, filter.length / 8, true);
  fprog.setBigUint64(8, BigInt(ptr(filter)), true);
  return setSocketOption(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog);
}
