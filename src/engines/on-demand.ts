/**
 * micromamba engines that find (or set up) micromamba on first use, so that choosing
 * `engine: micromamba` costs nothing until a solve or an install actually happens, and a no-op
 * deploy never looks for micromamba at all.
 */
import type { PackageRecord } from '../conda/types.js';
import { ensureMicromamba } from '../setup/micromamba-setup.js';
import type { Logger } from '../util/logger.js';
import { MicromambaInstaller, MicromambaSolver, type MicromambaEngineOptions } from './micromamba.js';
import type { ChannelCredentials, InstallReport, InstallRequest, InstallerEngine, SolveRequest, SolverEngine } from './types.js';

export interface OnDemandOptions {
  env?: NodeJS.ProcessEnv;
  workDir?: string;
  credentials?: ChannelCredentials;
}

async function engineOptions(options: OnDemandOptions, logger: Logger): Promise<MicromambaEngineOptions> {
  const found = await ensureMicromamba({}, { logger, env: options.env });
  return { micromamba: found.path, logger, env: options.env, workDir: options.workDir, credentials: options.credentials };
}

export class OnDemandMicromambaSolver implements SolverEngine {
  private engine?: Promise<MicromambaSolver>;
  constructor(private readonly options: OnDemandOptions = {}) {}

  async solve(request: SolveRequest): Promise<PackageRecord[]> {
    this.engine ??= engineOptions(this.options, request.logger).then((o) => new MicromambaSolver(o));
    return (await this.engine).solve(request);
  }
}

export class OnDemandMicromambaInstaller implements InstallerEngine {
  private engine?: Promise<MicromambaInstaller>;
  constructor(private readonly options: OnDemandOptions = {}) {}

  async install(request: InstallRequest): Promise<InstallReport> {
    this.engine ??= engineOptions(this.options, request.logger).then((o) => new MicromambaInstaller(o));
    return (await this.engine).install(request);
  }
}
