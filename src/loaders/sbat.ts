/**
 * SBAT (Secure Boot Advanced Targeting): shim and GRUB carry a CSV of components and their
 * security generations in an .sbat section. Firmware (through shim's SbatLevel) refuses a binary
 * whose generation of a component is below the revocation level, so a lower generation than the
 * built-in loader's is an older, possibly revoked, build.
 */

export type SbatGenerations = ReadonlyMap<string, number>;

const HEADER = "sbat,1,";

/** The component → generation table of a PE binary, empty when it has no SBAT data. */
export function sbatGenerations(data: Uint8Array): SbatGenerations {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  const out = new Map<string, number>();
  // The section holds one NUL-terminated CSV; shim also has an .sbatlevel section, which starts otherwise.
  for (let at = text.indexOf(HEADER); at >= 0; at = text.indexOf(HEADER, at + 1)) {
    const end = text.indexOf("\0", at);
    const csv = text.slice(at, end < 0 ? undefined : end);
    if (!csv.includes("SBAT Version")) continue;
    for (const line of csv.split("\n")) {
      const [component, generation] = line.split(",");
      if (component && generation && /^\d+$/.test(generation)) out.set(component, Number(generation));
    }
    break;
  }
  return out;
}

/** Components whose generation in `tree` is lower than in `builtin`, as "grub 3 < 5". */
export function olderSbat(tree: SbatGenerations, builtin: SbatGenerations): string[] {
  const older: string[] = [];
  for (const [component, gen] of builtin) {
    const have = tree.get(component);
    if (component !== "sbat" && have !== undefined && have < gen) older.push(`${component} ${have} < ${gen}`);
  }
  return older;
}
