/**
 * Block-number arithmetic. Transfers count blocks with an unbounded "absolute" number (1, 2, …,
 * past 65535) and only the wire carries the 16-bit form, so rollover lives in these two functions.
 */

/** The 16-bit block number sent for absolute block `abs`. rollover 0: …65535, 0, 1…; rollover 1: …65535, 1, 2…. */
export function wireBlock(abs: number, rollover: 0 | 1): number {
  if (rollover === 0 || abs <= 65535) return abs % 65536;
  return ((abs - 1) % 65535) + 1;
}

/**
 * The absolute block in [low, high] that a 16-bit ACK (or DATA) number refers to, or -1 when none
 * does. Windows are narrower than the wrap period, so the newest match is the right one.
 */
export function absoluteBlock(wire: number, low: number, high: number, rollover: 0 | 1): number {
  let abs: number;
  if (rollover === 1 && wire === 0) abs = 0; // with rollover 1, 0 only ever names the OACK
  else {
    const period = rollover === 0 ? 65536 : 65535;
    abs = high - ((((wireBlock(high, rollover) - wire) % period) + period) % period);
  }
  return abs >= low && abs <= high ? abs : -1;
}

/** How many DATA blocks a file of `size` bytes needs: the last one is short, possibly empty. */
export function blockCount(size: number, blockSize: number): number {
  return Math.floor(size / blockSize) + 1;
}
