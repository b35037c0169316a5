import { areaOf, outcomeKey } from './keys.js';
import type { StateObjects } from './state-objects.js';

/** Markers of the irreversible finalize steps, written before the call so a repeat can tell. */
const FINALIZE_MARKS = ['package-finalizing', 'package-finalized', 'link-requested'] as const;
export type FinalizeMark = (typeof FINALIZE_MARKS)[number];

/**
 * How far a delivery got at its end: the files marked finalized, the marks of Finalize's
 * irreversible steps, and the outcome markers that make a repeated Finalize or Abort report success.
 */
export class FinalizeMarks {
  constructor(private readonly objects: StateObjects) {}

  /** Remembers that the delivery happened, so a Finalize or Abort that runs again reports success. */
  async markDelivered(deliveryId: string, result: unknown): Promise<boolean> {
    return this.objects.putOnce(outcomeKey('delivered', deliveryId), result);
  }

  async delivered<T>(deliveryId: string): Promise<T | undefined> {
    return this.objects.readJson<T>(outcomeKey('delivered', deliveryId));
  }

  /** Remembers that Abort handled the delivery, so a later sweep does nothing. */
  async markAborted(deliveryId: string, detail: unknown): Promise<boolean> {
    return this.objects.putOnce(outcomeKey('aborted', deliveryId), detail);
  }

  async aborted<T>(deliveryId: string): Promise<T | undefined> {
    return this.objects.readJson<T>(outcomeKey('aborted', deliveryId));
  }

  async markFileFinalized(deliveryId: string, fileIndex: number) {
    await this.objects.putEmpty(`${areaOf(deliveryId, 'finalized')}${fileIndex}`);
  }

  async mark(deliveryId: string, mark: FinalizeMark) {
    await this.objects.putEmpty(`${areaOf(deliveryId, 'finalized')}${mark}`);
  }

  /** Writes the marker only if it is not there yet; false when an earlier attempt wrote it. */
  async markOnce(deliveryId: string, mark: FinalizeMark): Promise<boolean> {
    return this.objects.putOnce(`${areaOf(deliveryId, 'finalized')}${mark}`, {
      at: new Date().toISOString(),
    });
  }

  /** One listing of the finalize area: the files marked finalized (by index) and the finalize marks. */
  async finalizeProgress(deliveryId: string): Promise<{ files: Set<number>; marks: Set<FinalizeMark> }> {
    const files = new Set<number>();
    const marks = new Set<FinalizeMark>();
    const area = areaOf(deliveryId, 'finalized');
    for (const { key } of await this.objects.list(area)) {
      const name = key.slice(area.length);
      if (/^\d+$/.test(name)) files.add(Number(name));
      else if ((FINALIZE_MARKS as readonly string[]).includes(name)) marks.add(name as FinalizeMark);
    }
    return { files, marks };
  }
}
