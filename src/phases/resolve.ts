import type { PhaseResult } from './result.js';
import type { ResolveSettings, Services } from './settings.js';

export interface ResolveResult extends PhaseResult {
  /** Environments whose manifest changed (pushed, or would be in dry-run). */
  changed: string[];
}

export async function resolve(_settings: ResolveSettings, _services: Services): Promise<ResolveResult> {
  throw new Error('resolve: not implemented yet');
}
