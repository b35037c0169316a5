import type { FaultSchedule } from './faults.js';
import type { MultipartStore, StoredPart } from './multipart-store.js';
import type { StorageEncryption } from './storage-encryption.js';

export interface EmulatorSpec {
  max_chunk_count: number;
  max_chunk_size: number;
  min_chunk_size: number;
}

export interface EmulatorSettings {
  spec: EmulatorSpec;
  /** Lifetime of minted package tokens. */
  tokenTtlSeconds: number;
  /** Lifetime of presigned storage URLs. */
  urlTtlSeconds: number;
  /** Lifetime of a package before it expires (MASV's older docs: 10 days). */
  packageTtlSeconds: number;
  /** Largest `count` one part-blueprint request may ask for. */
  maxBlueprintWindow: number;
  /** Whether a repeated finalize (file or package) answers 204 again or 409. */
  repeatFinalize: 'idempotent' | 'conflict';
  /** Whether `kind: "directory"` entries get a create_blueprint. */
  directoryBlueprint: boolean;
  /** Finalize's part-number key: accept `part_number`, `partNumber` or both. */
  partNumberKeys: 'both' | 'partNumber' | 'part_number';
  /** How storage encrypts (SSE-KMS makes part ETags opaque); see storage-encryption.ts. Default SSE-S3. */
  storageEncryption: StorageEncryption;
}

export interface EmulatorAccounts {
  apiKey: string;
  teamId: string;
  portalId: string;
  portalSubdomain: string;
  protectedPortalId: string;
  protectedPortalSubdomain: string;
  accessCode: string;
  formPortalId: string;
  formPortalSubdomain: string;
}

export interface EmuFile {
  id: string;
  packageId: string;
  kind: 'file' | 'directory';
  name: string;
  path: string;
  size?: number;
  lastModified: string;
  partSize: number;
  state: 'new' | 'finalized';
  /** Headers the create blueprint carries and storage requires verbatim. */
  createHeaders: Record<string, string>;
  uploadId?: string;
  finalParts?: StoredPart[];
  sha256?: string;
  createdAt: string;
}

export interface EmuPackage {
  id: string;
  owner: { kind: 'team'; teamId: string } | { kind: 'portal'; portalId: string };
  name: string;
  description: string;
  recipients: string[];
  sender?: string;
  password?: string;
  accessLimit?: number;
  unlimitedStorage: boolean;
  formDataId?: string;
  partSize: number;
  state: 'new' | 'finalized' | 'deleted';
  /** Every state change, oldest first, so tests can prove no package went from finalized to deleted. */
  stateChanges: Array<{ at: string; from: EmuPackage['state'] | null; to: EmuPackage['state'] }>;
  files: Map<string, EmuFile>;
  links: Array<{ id: string; email?: string }>;
  /** Tokens issued before this time (seconds) are treated as expired (token-expiry fault). */
  tokensValidFrom: number;
  createdAt: string;
  updatedAt: string;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  route: string;
  status: number;
  ms: number;
}

export interface Counters {
  apiCalls: Record<string, number>;
  apiCallsTotal: number;
  partUploads: number;
  partsStored: number;
  bytesStored: number;
  /** Part uploads for a part number already stored (a client retry or re-upload). */
  partRetries: number;
  /** API requests identical to the previous request of the same route and package (client retries). */
  apiRetries: number;
  concurrentPartUploads: number;
  peakConcurrentPartUploads: number;
  faultsApplied: number;
}

export interface EmulatorState {
  settings: EmulatorSettings;
  accounts: EmulatorAccounts;
  packages: Map<string, EmuPackage>;
  store: MultipartStore;
  faults: FaultSchedule;
  counters: Counters;
  requestLog: RequestLogEntry[];
  /** The last request of each route (ids, query, body), to count identical repeats as retries. */
  lastRequestByRoute: Map<string, string>;
  tokenSecret: Buffer;
  signingKey: Buffer;
  apiUrl: string;
  storageUrl: string;
  now: () => number;
  log: (line: string) => void;
}

export function newCounters(): Counters {
  return {
    apiCalls: {},
    apiCallsTotal: 0,
    partUploads: 0,
    partsStored: 0,
    bytesStored: 0,
    partRetries: 0,
    apiRetries: 0,
    concurrentPartUploads: 0,
    peakConcurrentPartUploads: 0,
    faultsApplied: 0,
  };
}
