/** Client addresses as people read them: IPv4-mapped IPv6 (dual-stack sockets) shown as IPv4. */
export function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
