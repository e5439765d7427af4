/**
 * Deploys one environment: its selected prefixes, then its label symlinks, then (opt-in) prune.
 *
 * First a plan is made without the lock, reading only the file system. When there is nothing to do
 * the environment is done: no lock taken, nothing written, no package cache or network touched.
 * Otherwise the environment's lock is taken and the plan made again (another deploy may have done
 * part of it meanwhile): leftovers of killed runs removed, missing prefixes built in staging and
 * renamed into place, labels switched to complete prefixes only, unlabelled prefixes pruned.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { captureActivation, NO_ACTIVATION, type Activation } from './activation.js';
import type { AdoptFn } from './adopt.js';
import { withEnvLock, type EnvLockOptions } from './env-lock.js';
import { condaMetaSize, envDir, findLeftovers, makeStagingDir, markIncomplete, moveIntoPlace, readIncomplete, readMarker, removeLeftovers, writeMarker, type DeployMarker } from './layout.js';
import { syncEnvModules, type EnvModulesContext, type ModulesConfig } from './env-modules.js';
import type { EnvOutcome, PrefixOutcome } from './outcome.js';
import { applyPrune, formatBytes, planPrune, type PruneCandidate } from './prune.js';
import { mayRemoveLabel, type EnvSelection, type SelectedPrefix } from './selection.js';
import { ensureDir, fixTree, isRestricted, WORLD_READABLE, wantedMode, type TreeAccess } from './permissions.js';
import { DEFAULT_TEST_TIMEOUT, runSmokeTests, SmokeTestError, type TestRecord } from './smoke-tests.js';
import { applyLinks, planLinks, readLabelLinks, readPointedTo, type LinkChange } from './symlinks.js';

/**
 * What an install gives back: the marker's facts, the tag's smoke tests, deferred post-link scripts,
 * and what the installer wants the user to read (clobbered paths, post-link messages: job summary).
 */
export type InstallResult = Omit<DeployMarker, 'time' | 'sizeBytes' | 'tests' | 'activation'> & {
  /** env.spec's `tests:` of the tag. */
  tests?: string[];
  /** Runs the post-link scripts in the final prefix (the installer deferred them); how many ran. */
  runPostLink?: () => Promise<number>;
  /** Filled by the installer, deferred post-link scripts' messages included once they ran. */
  notices?: string[];
  /** The installer made everything readable by anyone (InstallReport.readableByAnyone). */
  readableByAnyone?: boolean;
  /** The prefix's size from the records the installer wrote (InstallReport.sizeBytes); else read back. */
  installedBytes?: number;
};

/** Builds a complete prefix for `selected` in `stagingDir` (to live at `prefix`). */
export type InstallFn = (selected: SelectedPrefix, stagingDir: string, prefix: string) => Promise<InstallResult>;

export interface EnvDeployOptions {
  target: string;
  envLabels: readonly string[];
  dryRun: boolean;
  prune: boolean;
  keep: number;
  logger: Logger;
  now: () => Date;
  install: InstallFn;
  /** Recognises a complete prefix that has no marker (deployed by conda-gitenv); see adopt.ts. */
  adopt?: AdoptFn;
  lock?: Omit<EnvLockOptions, 'logger'>;
  /** The platform whose locks are installed (the machine's, or the explicit override). */
  platform?: string;
  /**
   * Another platform than this machine's, by explicit override: the prefixes are for machines
   * sharing the file system, and nothing in them is run here: no post-link scripts, no smoke tests.
   */
  foreignPlatform?: boolean;
  /** Who may read the tree (default: everyone). */
  access?: TreeAccess;
  /** Smoke tests: skipped on request (logged), each command's time limit, where their directories go. */
  tests?: { skip: boolean; timeoutSeconds: number; workDir?: string };
  /**
   * false: run no package code on this machine — no post-link scripts, smoke tests or activation
   * scripts (a prefix deployed for another platform than the runner's). Default true.
   */
  packageCode?: boolean;
  modules?: ModulesConfig;
}

interface EnvPlan {
  /** The complete prefixes' markers, by tag. */
  markers: Map<string, DeployMarker>;
  /** The label links found (label -> deployed name). */
  current: Map<string, string>;
  missing: SelectedPrefix[];
  links: LinkChange[];
  leftovers: string[];
  prune: PruneCandidate[];
}

export async function deployEnv(selection: EnvSelection, options: EnvDeployOptions): Promise<EnvOutcome> {
  const dir = envDir(options.target, selection.env);
  const plan = await makePlan(selection, dir, options);
  const known = { links: plan.current, markers: new Map([...plan.markers.values()].map((m) => [m.deployedName, m])) };
  const staleModules = options.modules ? await syncEnvModules(selection.env, dir, moduleContext(options), false, known) : [];
  const modulesStale = staleModules.length > 0;
  if (options.dryRun && modulesStale) options.logger.info(`Would write or remove ${countOf(staleModules.length, 'modulefile', 'modulefiles')}: ${staleModules.join(', ')}`);
  const nothingToDo = plan.missing.length + plan.links.length + plan.leftovers.length + plan.prune.length === 0 && !modulesStale;
  if (nothingToDo || options.dryRun) {
    if (nothingToDo) options.logger.info(`${selection.env} is up to date (${countOf(selection.prefixes.length, 'prefix', 'prefixes')}, ${countOf(selection.links.size, 'label', 'labels')})`);
    else reportPlan(selection, plan, options.logger);
    return { env: selection.env, prefixes: statusFromPlan(selection, dir, plan), links: plan.links, pruned: plan.prune, leftovers: plan.leftovers, modulefiles: staleModules };
  }
  try {
    return await withEnvLock(dir, { ...options.lock, logger: options.logger }, () => deployLocked(selection, dir, options));
  } catch (err) {
    // The lock could not be had (or was lost): nothing was changed under it by this run.
    const message = errorMessage(err);
    options.logger.error(`${selection.env}: ${message}`);
    const prefixes = statusFromPlan(selection, dir, plan).map((p) => (p.status === 'up to date' ? p : { ...p, status: 'failed' as const, error: message }));
    return { env: selection.env, prefixes, links: [], pruned: [], leftovers: [], error: message };
  }
}

async function makePlan(selection: EnvSelection, dir: string, options: EnvDeployOptions): Promise<EnvPlan> {
  const missing: SelectedPrefix[] = [];
  const markers = new Map<string, DeployMarker>();
  for (const p of selection.prefixes) {
    const marker = await readMarker(path.join(dir, p.deployedName));
    if (marker?.tag === p.tag && !otherPlatform(marker, options)) markers.set(p.tag, marker);
    else missing.push(p);
  }
  const current = await readLabelLinks(dir);
  const links = planLinks(current, selection.links, (l) => mayRemoveLabel(selection, l, options.envLabels));
  const leftovers = await findLeftovers(dir);
  let prune: PruneCandidate[] = [];
  if (options.prune) {
    // What will be pointed to once the links are applied: unchanged links and every wanted target.
    const changed = new Set(links.map((c) => c.label));
    const protect = new Set([...selection.links.values()].map((w) => w.deployedName));
    for (const [label, name] of current) if (!changed.has(label)) protect.add(name);
    // links the site made (not gitenv's labels) protect what they lead to
    for (const name of await readPointedTo(dir, new Set(current.keys()))) protect.add(name);
    prune = await planPrune(dir, protect, options.keep);
  }
  return { markers, current, missing, links, leftovers, prune };
}

async function deployLocked(selection: EnvSelection, dir: string, options: EnvDeployOptions): Promise<EnvOutcome> {
  const { logger } = options;
  logger.debug(`deploy: holding the lock on ${dir}`);
  await ensureDir(dir, options.access ?? WORLD_READABLE);
  const outcome: EnvOutcome = { env: selection.env, prefixes: [], links: [], pruned: [], leftovers: await removeLeftovers(dir) };
  for (const l of outcome.leftovers) logger.info(`Removed ${l}, left by an interrupted deploy`);

  for (const selected of selection.prefixes) {
    const prefix = path.join(dir, selected.deployedName);
    const marker = await readMarker(prefix);
    const foreign = marker?.tag === selected.tag ? otherPlatform(marker, options) : undefined;
    if (foreign) {
      // Never taken for this platform's prefix, never replaced: a shared target serves that platform.
      const error = `${prefix} holds ${selected.tag} for ${foreign}, not ${options.platform}: deploy each platform into a target of its own`;
      logger.error(`${selected.env}: ${error}`);
      outcome.prefixes.push({ ...prefixOutcome(selected, prefix, 'failed'), error });
      continue;
    }
    if (marker?.tag === selected.tag) {
      outcome.prefixes.push(prefixOutcome(selected, prefix, 'up to date', marker.sizeBytes));
      continue;
    }
    const adopted = marker || (await readIncomplete(prefix)) !== undefined ? undefined : await adoptOne(selected, prefix, options);
    outcome.prefixes.push(adopted ?? (await installOne(selected, dir, prefix, options)));
  }
  const failed = outcome.prefixes.filter((p) => p.status === 'failed');
  if (failed.length > 0) outcome.error = failed.map((p) => `${p.tag}: ${p.error}`).join('; ');

  const relinked = await relink(selection, dir, options, failed.length === 0);
  outcome.links = relinked.applied;
  if (relinked.failed.length > 0) {
    const labels = relinked.failed.map((f) => `label ${f.change.label}: ${f.message}`).join('; ');
    outcome.error = outcome.error ? `${outcome.error}; ${labels}` : labels;
  }
  if (options.prune && failed.length === 0) outcome.pruned = await prune(selection, dir, options);
  if (options.modules) outcome.modulefiles = await syncEnvModules(selection.env, dir, moduleContext(options), true);
  return outcome;
}

/**
 * Builds one prefix in staging, renames it into place, runs the post-link scripts there (they see
 * the final path, as conda gives it), runs the smoke tests, and writes the completion marker last.
 * Until the marker is written the prefix holds `conda-meta/gitenv.incomplete`: no label moves to it,
 * nothing adopts it, and the next deploy of its tag replaces it (prune removes it like any unlabelled
 * prefix). Each step says so in the debug log (GITENV_DEBUG), where the crash tests find the moment
 * to kill a deploy.
 */
async function installOne(selected: SelectedPrefix, dir: string, prefix: string, options: EnvDeployOptions): Promise<PrefixOutcome> {
  const { logger } = options;
  const access = options.access ?? WORLD_READABLE;
  const started = Date.now();
  const staging = await makeStagingDir(dir, selected.deployedName);
  let moved = false;
  try {
    logger.info(`Installing ${selected.env}/${selected.deployedName} from ${selected.tag}`);
    logger.debug(`deploy: staging ${staging}`);
    const { tests, runPostLink, notices, readableByAnyone, installedBytes, ...facts } = await options.install(selected, staging, prefix);
    const sizeBytes = installedBytes ?? (await condaMetaSize(staging));
    await markIncomplete(staging, 'post-link scripts and smoke tests have not finished');
    // The walk over every file adds read bits (and the group): not needed when the installer says
    // it made everything readable by anyone already and no group is wanted.
    if (!readableByAnyone || isRestricted(access)) await fixTree(staging, access);
    else logger.debug(`deploy: ${staging} made readable by anyone by the installer; no walk over its files`);
    await fs.chmod(staging, wantedMode(0o755, true, access));
    if (access.gid !== undefined) await fs.chown(staging, process.getuid?.() ?? -1, access.gid);
    logger.debug(`deploy: permissions set in ${staging}`);
    const { replaced, kept } = await moveIntoPlace(staging, prefix);
    moved = true;
    logger.debug(`deploy: ${staging} renamed to ${prefix}`);
    if (replaced) logger.warning(`${prefix} had no completion marker (made by the old tool, by hand, or left incomplete by an earlier deploy): replaced`);
    if (kept) {
      logger.warning(`${prefix} was completed meanwhile by another deploy (its lock was lost): kept that one`);
      return prefixOutcome(selected, prefix, 'up to date', sizeBytes);
    }
    await finishInPlace(selected, prefix, runPostLink, options);
    const testRecord = await smokeTest(selected, prefix, tests ?? [], options);
    const activation = !runsPackageCode(options) ? NO_ACTIVATION : await readActivation(selected, prefix, options);
    await writeMarker(prefix, { ...facts, time: options.now().toISOString(), sizeBytes, tests: testRecord, activation });
    await fs.rm(path.join(prefix, 'conda-meta', 'gitenv.incomplete'), { force: true });
    logger.debug(`deploy: marker written in ${prefix}`);
    const seconds = (Date.now() - started) / 1000;
    logger.info(`Installed ${selected.env}/${selected.deployedName}: ${facts.packages} packages, ${formatBytes(sizeBytes)} in ${seconds.toFixed(2)} s`);
    return { ...prefixOutcome(selected, prefix, 'installed', sizeBytes), seconds, ...(notices?.length ? { notices } : {}) };
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    const message = errorMessage(err);
    if (moved) await markIncomplete(prefix, message).catch(() => undefined);
    if (err instanceof SmokeTestError) {
      logger.error(`${message}\n${prefix} stays unlabelled (kept for inspection until pruned or redeployed); every label stays where it was`);
    } else {
      logger.error(`${selected.env}: deploying ${selected.tag} failed: ${message}`);
    }
    return { ...prefixOutcome(selected, prefix, 'failed'), error: message };
  }
}

/** The deferred post-link scripts, in the prefix at its final path; then the tree's modes again. */
async function finishInPlace(selected: SelectedPrefix, prefix: string, runPostLink: InstallResult['runPostLink'], options: EnvDeployOptions): Promise<void> {
  if (!runPostLink) return;
  if (!runsPackageCode(options)) {
    options.logger.info(`${selected.env}/${selected.deployedName}: post-link scripts not run (the prefix is not for this machine's platform)`);
    return;
  }
  const ran = await runPostLink();
  options.logger.debug(`deploy: ${ran} post-link script(s) ran in ${prefix}`);
  if (ran > 0) await fixTree(prefix, options.access ?? WORLD_READABLE);
}

/** What the activation scripts export; a script that breaks the shell costs the modulefiles its variables only. */
async function readActivation(selected: SelectedPrefix, prefix: string, options: EnvDeployOptions): Promise<Activation> {
  try {
    return await captureActivation(path.resolve(prefix));
  } catch (err) {
    options.logger.warning(`${selected.env}/${selected.deployedName}: ${errorMessage(err)}; its modulefiles set no variables of the activation scripts`);
    return NO_ACTIVATION;
  }
}

/** env.spec's tests in the new prefix; what the marker records of them (nothing when there are none). */
async function smokeTest(selected: SelectedPrefix, prefix: string, tests: string[], options: EnvDeployOptions): Promise<TestRecord | undefined> {
  if (tests.length === 0) return undefined;
  const { logger } = options;
  const what = `${selected.env}/${selected.deployedName}`;
  if (!runsPackageCode(options)) {
    logger.info(`${what}: ${countOf(tests.length, 'smoke test', 'smoke tests')} not run (the prefix is not for this machine's platform)`);
    return { status: 'skipped', commands: tests };
  }
  if (options.tests?.skip) {
    logger.warning(`${what}: skipping ${countOf(tests.length, 'smoke test', 'smoke tests')} (skip-tests)`);
    return { status: 'skipped', commands: tests };
  }
  logger.info(`Testing ${what}: ${countOf(tests.length, 'command', 'commands')}`);
  await runSmokeTests(path.resolve(prefix), tests, {
    env: selected.env,
    timeoutSeconds: options.tests?.timeoutSeconds ?? DEFAULT_TEST_TIMEOUT,
    workDir: options.tests?.workDir,
    onCommand: (c) => logger.info(`  $ ${c}`),
  });
  logger.info(`${what}: smoke tests passed`);
  return { status: 'passed', commands: tests };
}

/** Writes the marker into a marker-less prefix whose conda-meta holds exactly the tag's packages. */
async function adoptOne(selected: SelectedPrefix, prefix: string, options: EnvDeployOptions): Promise<PrefixOutcome | undefined> {
  const facts = await options.adopt?.(selected, prefix).catch(() => undefined);
  if (!facts) return undefined;
  const sizeBytes = await condaMetaSize(prefix);
  await writeMarker(prefix, { ...facts, time: options.now().toISOString(), sizeBytes });
  options.logger.info(`Adopted ${selected.env}/${selected.deployedName}: its conda-meta holds exactly the ${facts.packages} packages of ${selected.tag} (deployed by conda-gitenv)`);
  return prefixOutcome(selected, prefix, 'up to date', sizeBytes);
}

/**
 * Switches the labels to their (complete) prefixes; a label whose prefix failed stays where it was.
 * Links of labels gone from the repository are removed only when every install succeeded.
 */
async function relink(selection: EnvSelection, dir: string, options: EnvDeployOptions, allInstalled: boolean): Promise<{ applied: LinkChange[]; failed: { change: LinkChange; message: string }[] }> {
  const current = await readLabelLinks(dir);
  const changes = planLinks(current, selection.links, (l) => allInstalled && mayRemoveLabel(selection, l, options.envLabels));
  options.logger.debug(`deploy: relinking ${selection.env}: ${changes.map((c) => `${c.label}→${c.to ?? '(removed)'}`).join(', ') || 'nothing to change'}`);
  const { applied, skipped, failed } = await applyLinks(dir, changes);
  for (const c of applied) logLinkChange(selection.env, c, options.logger, false);
  for (const c of skipped) options.logger.warning(`${selection.env}/${c.label} stays at ${c.from ?? '(nothing)'}: ${c.tag} is not deployed`);
  for (const f of failed) options.logger.error(`${selection.env}/${f.change.label}: ${f.message}`, { file: `labels/${f.change.label}.txt` });
  return { applied, failed };
}

async function prune(selection: EnvSelection, dir: string, options: EnvDeployOptions): Promise<PruneCandidate[]> {
  const pointedTo = async (): Promise<Set<string>> => new Set([...(await readLabelLinks(dir)).values(), ...(await readPointedTo(dir)), ...[...selection.links.values()].map((w) => w.deployedName)]);
  const candidates = await planPrune(dir, await pointedTo(), options.keep);
  const removed = await applyPrune(candidates, async (name) => (await pointedTo()).has(name));
  for (const p of removed) options.logger.info(`Pruned ${selection.env}/${p.deployedName}, freeing ${formatBytes(p.bytes)}`);
  return removed;
}

function logLinkChange(env: string, c: LinkChange, logger: Logger, planned: boolean): void {
  if (c.to !== undefined) logger.info(`${planned ? 'Would link' : 'Linking'} ${env}/${c.label} to ${c.tag}`);
  else logger.info(`${planned ? 'Would remove' : 'Removing'} ${env}/${c.label} (labels/${c.label}.txt is gone)`);
}

function reportPlan(selection: EnvSelection, plan: EnvPlan, logger: Logger): void {
  for (const l of plan.leftovers) logger.info(`Would remove ${l}, left by an interrupted deploy`);
  for (const p of plan.missing) logger.info(`Would install ${p.env}/${p.deployedName} from ${p.tag}`);
  for (const c of plan.links) logLinkChange(selection.env, c, logger, true);
  for (const p of plan.prune) logger.info(`Would prune ${selection.env}/${p.deployedName}, freeing ${formatBytes(p.bytes)}`);
}

/** Each prefix's status as the plan found it: up to date, or still to install. */
function statusFromPlan(selection: EnvSelection, dir: string, plan: EnvPlan): PrefixOutcome[] {
  return selection.prefixes.map((p) => {
    const marker = plan.markers.get(p.tag);
    return prefixOutcome(p, path.join(dir, p.deployedName), marker ? 'up to date' : 'would install', marker?.sizeBytes);
  });
}

/** The platform a complete prefix was built for, when it is not the one this deploy installs. */
function otherPlatform(marker: DeployMarker, options: EnvDeployOptions): string | undefined {
  return marker.platform && options.platform && marker.platform !== options.platform ? marker.platform : undefined;
}

const countOf = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function prefixOutcome(p: SelectedPrefix, prefix: string, status: PrefixOutcome['status'], sizeBytes?: number): PrefixOutcome {
  return { env: p.env, tag: p.tag, deployedName: p.deployedName, prefix, labels: p.labels, status, sizeBytes };
}

function moduleContext(options: EnvDeployOptions): EnvModulesContext {
  return { modules: options.modules as ModulesConfig, access: options.access ?? WORLD_READABLE, packageCode: runsPackageCode(options), logger: options.logger };
}

/** Package code (post-link, smoke tests, activation scripts) runs only in prefixes for this machine. */
function runsPackageCode(options: EnvDeployOptions): boolean {
  return options.packageCode !== false && !options.foreignPlatform;
}
