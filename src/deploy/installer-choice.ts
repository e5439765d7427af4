/**
 * The one place deploy picks its installer from the `engine` setting.
 */
import type { ChannelCredentials, Engine, InstallerEngine } from '../engines/types.js';
import { OnDemandMicromambaInstaller } from '../engines/on-demand.js';
import { BuiltinInstaller } from '../installer/builtin-installer.js';

export interface InstallerChoiceOptions {
  /** Environment for post-link scripts and the engine (default process.env). */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Scratch space (micromamba's explicit file and private HOME). */
  workDir?: string;
  /** Channel credentials (micromamba gets them through its authentication file). */
  credentials?: ChannelCredentials;
}

export function chooseInstaller(engine: Engine, options: InstallerChoiceOptions = {}): InstallerEngine {
  switch (engine) {
    case 'builtin':
      return new BuiltinInstaller({ env: options.env, now: options.now });
    case 'micromamba':
      return new OnDemandMicromambaInstaller({ env: options.env, workDir: options.workDir, credentials: options.credentials });
  }
}
