/** A request MASV describes for us to run against its cloud storage, forwarded exactly as given. */
export interface Blueprint {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** MASV's limits on how a file may be split (`GET /v1/system/packages/spec`), in our words. */
export interface PackageSpec {
  maxPartCount: number;
  maxPartSize: number;
  minPartSize: number;
}

export interface CreatedPackage {
  id: string;
  /** Package token (`X-Package-Token`); a secret, never logged. */
  token: string;
}

export interface TeamPackageRequest {
  name: string;
  description: string;
  recipients: string[];
  password?: string;
  accessLimit?: number;
  unlimitedStorage?: boolean;
  partSize?: number;
}

export interface PortalPackageRequest {
  name: string;
  description: string;
  sender: string;
  /** Required by portals with a custom form. */
  formDataId?: string;
  partSize?: number;
  /** Upload password of a protected portal; sent URI-encoded in `X-Access-Code`. */
  accessCode?: string;
}

export interface AddFileRequest {
  kind: 'file' | 'directory';
  name: string;
  /** Folder of the file inside the package: `""` for the root, else `a/b/` (trailing slash). */
  path: string;
  lastModified: Date;
  size: number;
  partSize?: number;
}

export interface AddedFile {
  fileId: string;
  /** Absent for metadata-only entries (directories) when MASV returns none. */
  createBlueprint?: Blueprint;
}

/** One uploaded part as MASV's finalize expects it: 1-based number and the ETag as received. */
export interface UploadedPart {
  partNumber: number;
  etag: string;
}

export interface PackageLink {
  id: string;
  downloadSecret?: string;
}

/**
 * Package-scoped credentials. The token can expire during a long delivery; when `refresh` is
 * given, a 401 makes the client fetch a fresh token once and retry the call.
 */
export interface PackageAccess {
  packageId: string;
  token: string;
  refresh?: () => Promise<string>;
}

/** How a finalize call ended: carried out now, or MASV said it had already been done. */
export type FinalizeOutcome = 'finalized' | 'already-finalized';

/** A package as MASV's team listing and lookup describe it (no token). */
export interface PackageSummary {
  id: string;
  name: string;
  description: string;
  state: string;
  createdAt: string;
  totalFiles: number;
}

export interface PackageQuery {
  states: Array<'new' | 'finalized' | 'expired' | 'archived'>;
  name?: string;
  createdAtStart?: Date;
  createdAtEnd?: Date;
}
