import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;

/** Peak resident set size of a process (VmHWM), in MiB, as the OS measured it. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Runs a TypeScript entry point as its own process and resolves with the JSON line it prints when ready. */
async function spawnReady<T>(
  script: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; ready: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<T>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, ready };
}

/** Starts `npm run emulator` as its own process. */
export function spawnEmulator(args: string[] = []) {
  return spawnReady<Record<string, string>>('local/emulator/cli.ts', ['--port', '0', '--quiet', ...args]);
}

/** Starts `bench/servers.ts` (s3rver + emulator) as its own process. */
export function spawnServers() {
  return spawnReady<{ s3Endpoint: string; masvUrl: string; apiKey: string; teamId: string }>(
    'bench/servers.ts',
  );
}

/** SHA-256 of a finalized file, from the emulator's inspection API. */
export async function storedSha256(masvUrl: string, fileId: string): Promise<string> {
  const response = await fetch(`${masvUrl}/_emulator/files/${fileId}/sha256`);
  return ((await response.json()) as { sha256: string }).sha256;
}

/** A stream of `size` pseudo-random bytes made from one reused 1 MiB block (cheap to generate). */
export function patternStream(size: number, seed = 1): Readable {
  const block = Buffer.alloc(MiB);
  let x = seed;
  for (let i = 0; i < block.length; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    block.writeUInt32LE(x, i);
  }
  let sent = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(MiB, size - sent);
      sent += n;
      this.push(n === MiB ? block : block.subarray(0, n));
    },
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: number[]): string {
  return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
}
