import type { Services } from '../phases/settings.js';

export interface SetupSettings {
  version: string;
  urlTemplate: string;
  sha256?: string;
}

export interface SetupResult {
  path: string;
  version: string;
}

export async function setupMicromamba(_settings: SetupSettings, _services: Services): Promise<SetupResult> {
  throw new Error('setup: not implemented yet');
}
