import type { UploadedPart } from '../masv/types.js';
import { areaOf } from './keys.js';
import type { StateObjects } from './state-objects.js';

/** `00042.<etag>~<storedAt>`: part number, ETag as received, when storage accepted it (older records: LastModified). */
function parsePartKey(name: string, lastModified: number) {
  const dot = name.indexOf('.');
  const tilde = name.lastIndexOf('~');
  const storedAt = tilde > dot ? Number(name.slice(tilde + 1)) : Number.NaN;
  return {
    partNumber: Number(name.slice(0, dot)),
    etag: decodeURIComponent(name.slice(dot + 1, tilde > dot ? tilde : undefined)),
    at: Number.isFinite(storedAt) ? storedAt : lastModified,
  };
}

/**
 * The parts ledger: one empty object per finished part, the ETag in its key, so one listing reads
 * them all and a retried batch skips finished parts.
 */
export class PartsLedger {
  constructor(private readonly objects: StateObjects) {}

  /**
   * Records a finished part. `storedAt` (ms) is when storage answered the PUT: of two records of
   * one part (overlapping invocations), the one stored last names the copy storage kept.
   */
  async recordPart(deliveryId: string, fileIndex: number, part: UploadedPart, storedAt = Date.now()) {
    await this.objects.putEmpty(
      `${areaOf(deliveryId, 'parts')}${fileIndex}/${String(part.partNumber).padStart(5, '0')}.${encodeURIComponent(part.etag)}~${storedAt}`,
    );
  }

  /**
   * Finished parts `first…last` of one file: one listing page from just before `first` instead of
   * the whole file's parts, so a batch of a 10,000-part file costs one LIST, not ten.
   */
  async listPartsInWindow(
    deliveryId: string,
    fileIndex: number,
    first: number,
    last: number,
  ): Promise<Map<number, UploadedPart>> {
    const prefix = `${areaOf(deliveryId, 'parts')}${fileIndex}/`;
    const startAfter = `${prefix}${String(first - 1).padStart(5, '0')}/`;
    const parts = new Map<number, UploadedPart & { at: number }>();
    const beyond = (key: string) => Number(key.slice(prefix.length, key.indexOf('.', prefix.length))) > last;
    for (const object of await this.objects.list(prefix, startAfter, beyond)) {
      const { partNumber, etag, at } = parsePartKey(object.key.slice(prefix.length), object.at);
      if (partNumber < first || partNumber > last) continue;
      const previous = parts.get(partNumber);
      if (!previous || previous.at <= at) parts.set(partNumber, { partNumber, etag, at });
    }
    return new Map([...parts].map(([n, { partNumber, etag }]) => [n, { partNumber, etag }]));
  }
}
