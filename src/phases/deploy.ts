import * as path from 'node:path';
import { adoptFromRepository } from '../deploy/adopt.js';
import { deployEnv, type EnvDeployOptions, type InstallFn } from '../deploy/deploy-env.js';
import { chooseInstaller } from '../deploy/installer-choice.js';
import { defaultPkgCache } from '../deploy/layout.js';
import { readTemplate } from '../deploy/modulefiles.js';
import { cacheWasRestricted, ensureDir, isRestricted, markCacheRestricted, treeAccess, withUmask, type TreeAccess } from '../deploy/permissions.js';
import { DEFAULT_TEST_TIMEOUT } from '../deploy/smoke-tests.js';
import { foreignPlatformNote, summaryMarkdown, type EnvOutcome, type ForeignPlatform } from '../deploy/outcome.js';
import { packagesOfTag, trustedChannels, type TagFileReader } from '../deploy/packages.js';
import { selectEnv, type EnvSelection, type EnvState } from '../deploy/selection.js';
import type { InstallerEngine } from '../engines/types.js';
import { isKnownPlatform, KNOWN_PLATFORMS, machinePlatform } from '../conda/platforms.js';
import { FetchWrapper } from '../net/fetch-wrapper.js';
import { DEFAULT_RETRY } from '../net/retry.js';
import { latestTag, tagsOf, type RepositorySnapshot, openForPhase } from '../repo/env-repository.js';
import { ConfigurationError, errorMessage } from '../util/errors.js';
import { globMatcher } from '../util/glob.js';
import { VERSION } from '../version.js';
import type { FailedEnv, PhaseResult } from './result.js';
import type { DeploySettings, Services } from './settings.js';
import { LOCK_FILE } from '../manifest/files.js';

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
export async function deploy(given: DeploySettings, services: Services): Promise<DeployResult> {
  const { logger } = services;
  if (!given.target) throw new ConfigurationError('Input target is empty: give the directory to deploy into');
  const settings = withAbsolutePaths(given);
  if (settings.apiUser) logger.setSecret(settings.apiUser);
  if (settings.apiKey) logger.setSecret(settings.apiKey);
  if (settings.testTimeout !== undefined && !(settings.testTimeout > 0)) {
    throw new ConfigurationError(`Input test-timeout must be a positive number of seconds, got ${settings.testTimeout}`);
  }
  const plan = platformPlan(settings.platform);
  if (plan.foreignPlatform) logger.warning(foreignPlatformNote({ platform: plan.platform, machine: plan.machine }));
  const access = await treeAccess(settings.group, settings.worldReadable ?? true);
  const modules = settings.modulefiles
    ? { dir: path.resolve(settings.modulefiles), format: settings.modulefilesFormat ?? 'lua', template: await readTemplate(settings.modulefilesTemplate) }
    : undefined;
  if (settings.skipTests) logger.warning('skip-tests: smoke tests (env.spec tests:) are not run; labels move to untested prefixes');
  const repo = await openForPhase(settings, services);
  try {
    const snapshot = await repo.snapshot(settings.envs);
    const envBranches = new Map(snapshot.envs.map((e) => [e.name, e.commit]));
    // What this run creates is readable as `access` says from the start (installer, micromamba, scripts).
    return await withUmask(access, async () => {
      if (!settings.dryRun) await prepareTree(settings, access);
      const install = installFn(settings, services, repo, envBranches, plan, access);
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
            platform: plan.platform,
            foreignPlatform: plan.foreignPlatform,
            access,
            tests: { skip: settings.skipTests === true, timeoutSeconds: settings.testTimeout ?? DEFAULT_TEST_TIMEOUT, workDir: settings.workDir },
            // Another platform's prefix runs no package code here: no post-link scripts, smoke tests, activation scripts.
            packageCode: !plan.foreignPlatform,
            modules,
          }),
        );
        outcomes.push(outcome);
        if (outcome.error) failed.push({ env: state.env, message: outcome.error });
      }
      const deployed = outcomes.flatMap((o) => o.prefixes.filter((p) => p.status === 'installed' || p.status === 'up to date').map((p) => ({ env: p.env, tag: p.tag, prefix: p.prefix })));
      const foreign: ForeignPlatform | undefined = plan.foreignPlatform ? { platform: plan.platform, machine: plan.machine } : undefined;
      return { deployed, failed, summary: summaryMarkdown(outcomes, settings.dryRun, foreign) };
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

/**
 * Characters a shell interprets inside double quotes (and control characters): a prefix path is
 * written into packages' scripts and entry points, where such a character would run as a command.
 */
// eslint-disable-next-line no-control-regex
const SHELL_ACTIVE = /[$`"\\\x00-\x1f\x7f]/;

/**
 * The target (and package cache) as absolute paths, resolved once against the working directory:
 * the prefix path is what placeholders are replaced with, so a relative one would be baked into
 * every prefix. A target whose path a shell would interpret is refused before anything is written.
 */
export function withAbsolutePaths(settings: DeploySettings): DeploySettings {
  const target = path.resolve(settings.target);
  const bad = SHELL_ACTIVE.exec(target);
  if (bad) {
    throw new ConfigurationError(
      `target ${JSON.stringify(target)} holds ${JSON.stringify(bad[0])}, which a shell interprets inside double quotes: ` +
        'prefixes are written into packages\' scripts, so the target must not hold $, `, ", \\ or control characters',
    );
  }
  return { ...settings, target, pkgCache: settings.pkgCache === undefined ? undefined : path.resolve(settings.pkgCache) };
}

/** The platform deploy installs, and whether it is this machine's. */
export interface PlatformPlan {
  platform: string;
  /** This machine's conda platform (undefined: conda has none for it). */
  machine?: string;
  /** An explicit override names another platform: no post-link scripts, no smoke tests. */
  foreignPlatform: boolean;
}

/** The machine's platform (OS and CPU → conda subdir), or the explicit override. */
export function platformPlan(override: string | undefined, detect: () => string | undefined = () => machinePlatform()): PlatformPlan {
  const machine = detect();
  if (override !== undefined && !isKnownPlatform(override)) {
    throw new ConfigurationError(`Input platform: "${override}" is not a conda platform (known: ${KNOWN_PLATFORMS.join(', ')})`);
  }
  const platform = override ?? machine;
  if (!platform) {
    throw new ConfigurationError(`This machine (${process.platform}/${process.arch}) has no conda platform: give the platform input (--platform) to deploy another platform's locks`);
  }
  return { platform, machine, foreignPlatform: platform !== machine };
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
  const selected = globMatcher(envs);
  return snapshot.envs
    .filter((e) => manifests.has(e.name) && selected(e.name))
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
function installFn(settings: DeploySettings, services: Services, repo: TagFileReader, envBranches: ReadonlyMap<string, string>, plan: PlatformPlan, access: TreeAccess): InstallFn {
  const { logger } = services;
  let tools: { wrapper: FetchWrapper; installer: InstallerEngine } | undefined;
  // Hosts that get the channel credentials: the mirror's, and those of the channels in the env.spec
  // of each environment's branch (never a host named only by env.lock or env.manifest, which whoever
  // pushes a manifest branch writes).
  const trustedHosts = new Set<string>();
  const trust = (url: string) => {
    const u = parseUrl(url);
    if (u?.protocol === 'http:' || u?.protocol === 'https:') trustedHosts.add(u.host);
    if (u) tools?.wrapper.addChannel(url);
  };
  if (settings.mirror) trust(settings.mirror);
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
    // A restricted deploy's walk changes the cache's files through their links: say so in the cache
    // before anything is linked from it; from then on every deploy from it walks its prefixes.
    if (isRestricted(access)) await markCacheRestricted(pkgCache);
    const envBranch = envBranches.get(selected.env);
    const channels = envBranch ? await trustedChannels(repo, envBranch, selected.env, settings.channelAlias, logger) : [];
    for (const c of channels) trust(c);
    const tag = await packagesOfTag(repo, selected, { fetch: wrapper.fetch, mirror: settings.mirror, logger, platform: plan.platform });
    const said = `${selected.tag}: installing ${tag.file} for ${plan.platform}${plan.foreignPlatform ? ` (not this machine's platform, ${plan.machine ?? 'none'})` : ''}`;
    if (plan.foreignPlatform || tag.file !== LOCK_FILE) logger.info(said);
    else logger.debug(said);
    reportUntrusted(tag.packages, trustedHosts, selected.tag, settings, logger);
    const report = await installer.install({
      packages: tag.packages,
      prefix,
      stagingDir,
      pkgCache,
      requestedSpecs: tag.specs,
      mirror: settings.mirror,
      concurrency: settings.concurrency,
      fetch: wrapper.fetch,
      streamFetch: wrapper.stream,
      trustedHosts: [...trustedHosts],
      logger,
      deferPostLink: true,
      foreignPlatform: plan.foreignPlatform ? plan.platform : undefined,
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
      platform: plan.platform,
      notices: report.notices,
      readableByAnyone: report.readableByAnyone === true && !(await cacheWasRestricted(pkgCache)),
      installedBytes: report.sizeBytes,
    };
  };
}

/** Says once per tag which package hosts get no credentials (they are not hosts of env.spec's channels). */
function reportUntrusted(packages: readonly { url: string }[], trusted: ReadonlySet<string>, tag: string, settings: DeploySettings, logger: Services['logger']): void {
  if ((!settings.apiUser && !settings.apiKey) || settings.mirror) return;
  const hosts = new Set<string>();
  for (const p of packages) {
    const u = parseUrl(p.url);
    if (u && (u.protocol === 'http:' || u.protocol === 'https:') && !trusted.has(u.host)) hosts.add(u.host);
  }
  if (hosts.size > 0) logger.info(`${tag}: no channel credentials sent to ${[...hosts].join(', ')} (not a host of the channels in env.spec)`);
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
