/** MASV's public API; its own module so the configuration can name it without bundling the client. */
export const DEFAULT_MASV_API_URL = 'https://api.massive.app';
