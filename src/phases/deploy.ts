import { adoptFromRepository } from '../deploy/adopt.js';
import { deployEnv, type EnvDeployOptions, type InstallFn } from '../deploy/deploy-env.js';
import { chooseInstaller } from '../deploy/installer-choice.js';
import { defaultPkgCache } from '../deploy/layout.js';
import { readTemplate } from '../deploy/modulefiles.js';
import { ensureDir, treeAccess, withUmask, type TreeAccess } from '../deploy/permissions.js';
import { DEFAULT_TEST_TIMEOUT } from '../deploy/smoke-tests.js';
import { summaryMarkdown, type EnvOutcome } from '../deploy/outcome.js';
import { packagesOfTag, type TagFileReader } from '../deploy/packages.js';
import { selectEnv, type EnvSelection, type EnvState } from '../deploy/selection.js';
import type { InstallerEngine } from '../engines/types.js';
import { FetchWrapper } from '../net/fetch-wrapper.js';
import { DEFAULT_RETRY } from '../net/retry.js';
import { latestTag, tagsOf, type RepositorySnapshot, openForPhase } from '../repo/env-repository.js';
import { ConfigurationError, errorMessage } from '../util/errors.js';
import { matchesAny } from '../util/glob.js';
import { VERSION } from '../version.js';
import type { FailedEnv, PhaseResult } from './result.js';
import type { DeploySettings, Services } from './settings.js';

export interface DeployedEnv {
  env: string;
  tag: string;
  prefix: string;
}

export interface DeployResult extends PhaseResult {
  deployed: DeployedEnv[];
}

/**
 * deploy: every selected environment's labelled tags (and latest) as prefixes under
 * `<target>/<env>/`, with label symlinks; one environment failing leaves the others deploying.
 */
export async function deploy(settings: DeploySettings, services: Services): Promise<DeployResult> {
  const { logger } = services;
  if (!settings.target) throw new ConfigurationError('Input target is empty: give the directory to deploy into');
  if (settings.apiUser) logger.setSecret(settings.apiUser);
  if (settings.apiKey) logger.setSecret(settings.apiKey);
  if (settings.testTimeout !== undefined && !(settings.testTimeout > 0)) {
    throw new ConfigurationError(`Input test-timeout must be a positive number of seconds, got ${settings.testTimeout}`);
  }
  const access = await treeAccess(settings.group, settings.worldReadable ?? true);
  const modules = settings.modulefiles
    ? { dir: settings.modulefiles, format: settings.modulefilesFormat ?? 'lua', template: await readTemplate(settings.modulefilesTemplate) }
    : undefined;
  if (settings.skipTests) logger.warning('skip-tests: smoke tests (env.spec tests:) are not run; labels move to untested prefixes');
  const repo = await openForPhase(settings, services);
  try {
    const snapshot = await repo.snapshot();
    // What this run creates is readable as `access` says from the start (installer, micromamba, scripts).
    return await withUmask(access, async () => {
      if (!settings.dryRun) await prepareTree(settings, access);
      const install = installFn(settings, services, repo, access);
      const outcomes: EnvOutcome[] = [];
      const failed: FailedEnv[] = [];
      for (const state of envStates(snapshot, settings.envs)) {
        const selection = selectEnv(state, settings.envLabels);
        reportProblems(selection, failed, services);
        if (selection.prefixes.length === 0 && selection.links.size === 0) continue;
        const outcome = await logger.group(`Deploying ${state.env}`, () =>
          deployEnvSafely(selection, {
            target: settings.target,
            envLabels: settings.envLabels,
            dryRun: settings.dryRun,
            prune: settings.prune,
            keep: settings.keep,
            logger,
            now: services.now ?? (() => new Date()),
            install,
            adopt: adoptFromRepository(repo, settings.engine),
            access,
            tests: { skip: settings.skipTests === true, timeoutSeconds: settings.testTimeout ?? DEFAULT_TEST_TIMEOUT, workDir: settings.workDir },
            // Hook for deploys for another platform than the runner's: no package code runs then.
            packageCode: true,
            modules,
          }),
        );
        outcomes.push(outcome);
        if (outcome.error) failed.push({ env: state.env, message: outcome.error });
      }
      const deployed = outcomes.flatMap((o) =>
        o.prefixes.filter((p) => p.status === 'installed' || p.status === 'up to date').map((p) => ({ env: p.env, tag: p.tag, prefix: p.prefix })),
      );
      return { deployed, failed, summary: summaryMarkdown(outcomes, settings.dryRun) };
    });
  } finally {
    await repo.close();
  }
}

/** The target and the modulefiles directory, readable as `access` says (the package cache: on first install). */
async function prepareTree(settings: DeploySettings, access: TreeAccess): Promise<void> {
  await ensureDir(settings.target, access);
  if (settings.modulefiles) await ensureDir(settings.modulefiles, access);
}

/** deployEnv, with anything unexpected turned into this environment's failure (the others go on). */
async function deployEnvSafely(selection: EnvSelection, options: EnvDeployOptions): Promise<EnvOutcome> {
  try {
    return await deployEnv(selection, options);
  } catch (err) {
    const message = errorMessage(err);
    options.logger.error(`${selection.env}: ${message}`);
    return { env: selection.env, prefixes: [], links: [], pruned: [], leftovers: [], error: message };
  }
}

/** Environment branches that have a manifest branch, selected by the `envs` globs. */
function envStates(snapshot: RepositorySnapshot, envs: readonly string[]): EnvState[] {
  const manifests = new Set(snapshot.manifests.map((m) => m.env));
  return snapshot.envs
    .filter((e) => manifests.has(e.name) && matchesAny(e.name, envs))
    .map((e) => ({
      env: e.name,
      labels: new Map(Object.entries(e.labels)),
      tags: new Map(tagsOf(snapshot, e.name).map((t) => [t.name, { commit: t.commit, date: t.committerDate }])),
      latest: latestTag(snapshot, e.name)?.name,
    }));
}

/** A label naming a missing or foreign tag fails its environment; its other labels still deploy. */
function reportProblems(selection: EnvSelection, failed: FailedEnv[], services: Services): void {
  for (const p of selection.problems) {
    services.logger.error(`${selection.env}: ${p.message}`, { file: `labels/${p.label}.txt` });
    failed.push({ env: selection.env, message: p.message });
  }
}

/**
 * How a prefix is built: the tag's packages (env.lock, or an old-tool manifest looked up in the
 * channels), installed by the chosen engine. The fetch wrapper and the installer are made on first
 * use, so a deploy with nothing to install never touches the network or the package cache.
 */
function installFn(settings: DeploySettings, services: Services, repo: TagFileReader, access: TreeAccess): InstallFn {
  const { logger } = services;
  let tools: { wrapper: FetchWrapper; installer: InstallerEngine } | undefined;
  const getTools = () =>
    (tools ??= {
      // The installer's downloader retries package downloads itself (bodies cut short included).
      wrapper: new FetchWrapper({
        apiUser: settings.apiUser,
        apiKey: settings.apiKey,
        logger,
        channels: settings.mirror ? [settings.mirror] : [],
        otherRetry: { ...DEFAULT_RETRY, attempts: 1 },
      }),
      installer: chooseInstaller(settings.engine, {
        env: services.env,
        now: services.now,
        workDir: settings.workDir,
        credentials: { apiUser: settings.apiUser, apiKey: settings.apiKey },
      }),
    });
  const pkgCache = settings.pkgCache ?? defaultPkgCache(settings.target);
  return async (selected, stagingDir, prefix) => {
    const { wrapper, installer } = getTools();
    await ensureDir(pkgCache, access);
    const tag = await packagesOfTag(repo, selected, {
      fetch: wrapper.fetch,
      trustChannel: (url) => wrapper.addChannel(url),
      mirror: settings.mirror,
      logger,
    });
    for (const p of tag.packages) wrapper.addChannel(p.channel);
    const report = await installer.install({
      packages: tag.packages,
      prefix,
      stagingDir,
      pkgCache,
      requestedSpecs: tag.specs,
      mirror: settings.mirror,
      concurrency: settings.concurrency,
      fetch: wrapper.fetch,
      logger,
      deferPostLink: true,
    });
    return {
      env: selected.env,
      tag: selected.tag,
      deployedName: selected.deployedName,
      commit: selected.commit,
      lockSha256: tag.lockSha256,
      engine: settings.engine,
      gitenvVersion: VERSION,
      packages: report.packages,
      tests: tag.tests,
      runPostLink: report.runPostLink,
    };
  };
}
