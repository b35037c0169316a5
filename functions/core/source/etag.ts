/** Unquoted ETag (`"abc"` or `W/"abc"` → `abc`), the form the relay compares and pins. */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}
