import type { Readable } from 'node:stream';
import type { EmuFile, EmulatorState, EmuPackage } from './model.js';
import { newCounters } from './model.js';

export interface InspectedFile {
  id: string;
  kind: string;
  name: string;
  path: string;
  size?: number;
  state: string;
  partSize: number;
  partsStored: number;
}

export interface InspectedPackage {
  id: string;
  owner: EmuPackage['owner'];
  name: string;
  description: string;
  recipients: string[];
  sender?: string;
  state: EmuPackage['state'];
  stateChanges: EmuPackage['stateChanges'];
  links: EmuPackage['links'];
  files: InspectedFile[];
}

function inspectFile(state: EmulatorState, file: EmuFile): InspectedFile {
  const upload = file.uploadId ? state.store.uploads.get(file.uploadId) : undefined;
  return {
    id: file.id,
    kind: file.kind,
    name: file.name,
    path: file.path,
    size: file.size,
    state: file.state,
    partSize: file.partSize,
    partsStored: file.finalParts?.length ?? upload?.parts.size ?? 0,
  };
}

function inspectPackage(state: EmulatorState, pkg: EmuPackage): InspectedPackage {
  return {
    id: pkg.id,
    owner: pkg.owner,
    name: pkg.name,
    description: pkg.description,
    recipients: pkg.recipients,
    sender: pkg.sender,
    state: pkg.state,
    stateChanges: pkg.stateChanges,
    links: pkg.links,
    files: [...pkg.files.values()].map((f) => inspectFile(state, f)),
  };
}

/** What tests and the local runner may look at: state, bytes, counters, request log. Never secrets. */
export function createInspector(state: EmulatorState) {
  const findFile = (fileId: string) => {
    for (const pkg of state.packages.values()) {
      const file = pkg.files.get(fileId);
      if (file) return file;
    }
    return undefined;
  };
  const finalizedParts = (fileId: string) => {
    const file = findFile(fileId);
    if (!file?.finalParts) throw new Error(`File ${fileId} is not finalized (or its package was deleted).`);
    return { file, parts: file.finalParts };
  };
  return {
    packages: (): InspectedPackage[] => [...state.packages.values()].map((p) => inspectPackage(state, p)),
    package: (id: string): InspectedPackage | undefined => {
      const pkg = state.packages.get(id);
      return pkg && inspectPackage(state, pkg);
    },
    /** SHA-256 of a finalized file's stored bytes (computed once, then cached). */
    fileSha256: async (fileId: string): Promise<string> => {
      const { file, parts } = finalizedParts(fileId);
      file.sha256 ??= await state.store.sha256(parts);
      return file.sha256;
    },
    /** The stored bytes of a finalized file. */
    readFile: (fileId: string): Readable => state.store.openFile(finalizedParts(fileId).parts),
    counters: () => structuredClone(state.counters),
    requests: () => [...state.requestLog],
    resetCounters: () => {
      state.counters = newCounters();
      state.requestLog.length = 0;
    },
    settings: () => structuredClone(state.settings),
    updateSettings: (patch: Partial<EmulatorState['settings']>) => {
      const { spec, ...rest } = patch;
      Object.assign(state.settings, rest);
      if (spec) Object.assign(state.settings.spec, spec);
    },
  };
}

export type Inspector = ReturnType<typeof createInspector>;
