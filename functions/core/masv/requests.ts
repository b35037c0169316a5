import type {
  AddFileRequest,
  PackageQuery,
  PortalPackageRequest,
  TeamPackageRequest,
  UploadedPart,
} from './types.js';

/** What the relay sends MASV, in MASV's snake_case; fields left unset are not sent at all. */

export const LIST_PAGE_SIZE = 50;

export function teamPackageBody(request: TeamPackageRequest) {
  return dropUndefined({
    name: request.name,
    description: request.description,
    recipients: request.recipients,
    password: request.password,
    access_limit: request.accessLimit,
    unlimited_storage: request.unlimitedStorage,
    chunk_size: request.partSize,
  });
}

export function portalPackageBody(request: PortalPackageRequest) {
  return dropUndefined({
    name: request.name,
    description: request.description,
    sender: request.sender,
    form_data_id: request.formDataId,
    chunk_size: request.partSize,
  });
}

/** One page of the Team package listing (pages count from 1). */
export function packageListQuery(
  query: PackageQuery,
  page: number,
): Record<string, string | number | string[]> {
  return dropUndefined({
    status: query.states,
    name: query.name,
    created_at_start: query.createdAtStart?.toISOString(),
    created_at_end: query.createdAtEnd?.toISOString(),
    page,
    limit: LIST_PAGE_SIZE,
  }) as Record<string, string | number | string[]>;
}

export function addFileBody(request: AddFileRequest) {
  return dropUndefined({
    kind: request.kind,
    name: request.name,
    path: request.path,
    last_modified: request.lastModified.toISOString(),
    size: request.size,
    chunk_size: request.partSize,
  });
}

/** Parts in order, each with both key spellings MASV's sources use. */
export function finalizeFileBody(finalize: {
  uploadId: string;
  size: number;
  partSize: number;
  parts: UploadedPart[];
}) {
  const parts = [...finalize.parts].sort((a, b) => a.partNumber - b.partNumber);
  return {
    chunk_extras: parts.map((part) => ({
      part_number: String(part.partNumber),
      partNumber: String(part.partNumber),
      etag: part.etag,
    })),
    file_extras: { upload_id: finalize.uploadId },
    size: finalize.size,
    chunk_size: finalize.partSize,
  };
}

export function dropUndefined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
