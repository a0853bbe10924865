/**
 * A bad flag, value or argument: the CLI prints it as one line and exits 2. Shared, because the
 * layout code that validates host names and profiles runs under every command that takes them.
 */
export class UsageError extends Error {
  override name = "UsageError";
}
