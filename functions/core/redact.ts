/**
 * Removes secrets from text that may reach logs or error messages: presigned URL query strings,
 * JWTs (package tokens) and values of secret-bearing headers, JSON fields and query parameters
 * (a storage error may echo a presigned query without its `http(s)://` URL).
 */
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const URL_QUERY = /(https?:\/\/[^\s"'<>?]+)\?[^\s"'<>]*/g;
const SECRET_FIELD =
  /("?(?:x-api-key|x-package-token|x-access-code|x-amz-signature|x-amz-credential|x-amz-security-token|api_?key|apiKey|access_token|accessToken|password|access_code|accessCode|download_?secret|downloadSecret|token)"?\s*[:=]\s*)("[^"]*"|[^\s,}&]+)/gi;

export function redact(text: string): string {
  return text
    .replace(URL_QUERY, '$1?[redacted]')
    .replace(JWT, '[redacted-token]')
    .replace(SECRET_FIELD, '$1[redacted]');
}

/** The URL without its query string (which carries presigned signatures), for logs and errors. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?[redacted]`;
}
