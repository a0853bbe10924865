/**
 * File names are bytes. A TFTP request carries bytes, decoded one char per byte (latin1) so
 * nothing is lost; handing such a string to the file system would encode it again as UTF-8
 * (the client's `c3 bc` for "ü" would reach the disk as `c3 83 c2 bc`). Inside files/ every path
 * is such a byte string, and the file system is given its exact bytes, as tftpd-hpa does.
 */

/** The path to hand to node:fs: the string itself when it is plain ASCII (the common case), else its bytes. */
export function fsPath(byteString: string): string | Buffer {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(byteString) ? byteString : Buffer.from(byteString, "latin1");
}

/** A path given as text (a command-line root, UTF-8) in the byte-string form files/ works in. */
export function toByteString(text: string): string {
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** A byte string for people: UTF-8 where it decodes as such, the bytes as they are otherwise. */
export function displayName(byteString: string): string {
  if (/^[\x00-\x7f]*$/.test(byteString)) return byteString;
  const bytes = Buffer.from(byteString, "latin1");
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return text.includes("\ufffd") ? byteString : text;
}
