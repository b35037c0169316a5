import { XMLParser } from 'fast-xml-parser';
import { MasvProtocolError } from '../errors.js';

const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true });

/**
 * Extracts the `UploadId` from S3's `InitiateMultipartUploadResult`, whatever namespace or prefix
 * the storage uses.
 */
export function parseUploadId(xml: string): string {
  let document: unknown;
  try {
    document = parser.parse(xml);
  } catch (error) {
    throw new MasvProtocolError(
      'The create_blueprint response is not XML, so no UploadId can be read. MASV storage should answer with an ' +
        'InitiateMultipartUploadResult document; retry later or report it to MASV support.',
      { cause: error },
    );
  }
  const uploadId = findKey(document, 'UploadId');
  if (typeof uploadId !== 'string' || uploadId.trim() === '') {
    throw new MasvProtocolError(
      'The create_blueprint response has no UploadId element (expected InitiateMultipartUploadResult/UploadId). ' +
        'The file cannot be uploaded; retry later or report it to MASV support.',
    );
  }
  return uploadId.trim();
}

function findKey(node: unknown, key: string): unknown {
  if (!node || typeof node !== 'object') return undefined;
  const record = node as Record<string, unknown>;
  if (key in record) return record[key];
  for (const child of Object.values(record)) {
    const found = findKey(child, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

const errorParser = new XMLParser({ removeNSPrefix: true, parseTagValue: false });

/** Reads `Code` and `Message` from an S3-style XML error body, if it is one. */
export function parseStorageError(text: string): { code?: string; message?: string } {
  if (!text.trimStart().startsWith('<')) return {};
  try {
    const doc = errorParser.parse(text) as { Error?: { Code?: unknown; Message?: unknown } };
    return {
      code: typeof doc.Error?.Code === 'string' ? doc.Error.Code : undefined,
      message: typeof doc.Error?.Message === 'string' ? doc.Error.Message : undefined,
    };
  } catch {
    return {};
  }
}
