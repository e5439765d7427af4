import type { PhaseResult } from './result.js';
import type { DeploySettings, Services } from './settings.js';

export interface DeployedEnv {
  env: string;
  tag: string;
  prefix: string;
}

export interface DeployResult extends PhaseResult {
  deployed: DeployedEnv[];
}

export async function deploy(_settings: DeploySettings, _services: Services): Promise<DeployResult> {
  throw new Error('deploy: not implemented yet');
}
