import { createHash } from 'node:crypto';

export const KiB = 1024;

/** Hex SHA-256: a delivery is byte-exact when the stored file's digest equals the source's. */
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Hex MD5: what S3 and MASV's storage give as a part's ETag. */
export const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
