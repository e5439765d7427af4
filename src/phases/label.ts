import type { PhaseResult } from './result.js';
import type { LabelSettings, Services } from './settings.js';

export interface LabelResult extends PhaseResult {
  /** Labels written: {label: tag}. */
  labels: Record<string, string>;
}

export async function label(_settings: LabelSettings, _services: Services): Promise<LabelResult> {
  throw new Error('label: not implemented yet');
}
