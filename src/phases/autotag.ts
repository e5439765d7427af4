import type { PhaseResult } from './result.js';
import type { AutotagSettings, Services } from './settings.js';

export interface AutotagResult extends PhaseResult {
  /** Tags created (or, in dry-run, that would be). */
  tags: string[];
}

export async function autotag(_settings: AutotagSettings, _services: Services): Promise<AutotagResult> {
  throw new Error('autotag: not implemented yet');
}
