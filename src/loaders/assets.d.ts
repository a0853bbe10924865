// Boot loader files imported `with { type: "file" }` (src/loaders/embedded-files.ts): the import
// is the path Bun reads the embedded bytes from.
declare module "*.0" {
  const path: string;
  export default path;
}
declare module "*.c32" {
  const path: string;
  export default path;
}
declare module "*.e64" {
  const path: string;
  export default path;
}
declare module "*.efi" {
  const path: string;
  export default path;
}
declare module "*.kpxe" {
  const path: string;
  export default path;
}
