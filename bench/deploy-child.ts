/**
 * One deploy, as bench/deploy.ts measures it: bundled by ncc as the actions are and run in a
 * process of its own (see bundle-child.ts), so that the git processes it starts cost what they cost
 * from an action's process.
 *
 *   node <bundle> <request.json>   # DeploySettings; prints {phaseMs, installMs?, failed, log?}
 */
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { inExtractWorker, serveExtractions } from '../src/installer/extract-worker.js';
import { deploy } from '../src/phases/deploy.js';
import type { DeploySettings } from '../src/phases/settings.js';
import { MemoryLogger } from '../src/util/logger.js';

export interface DeployChildResult {
  /** The whole phase (git included). */
  phaseMs: number;
  /** From the first `Installing …` line to the next `Installed <env>/…:` line, when there is one. */
  installMs?: number;
  failed: unknown[];
  /** BENCH_VERBOSE: every line, with the milliseconds since the phase started. */
  log?: string;
}

/** Keeps when each line was logged. */
class TimedLogger extends MemoryLogger {
  private readonly t0 = performance.now();
  readonly at: { message: string; ms: number }[] = [];
  private note(message: string): string {
    this.at.push({ message, ms: performance.now() - this.t0 });
    return message;
  }
  override info(message: string): void {
    super.info(this.note(message));
  }
  override debug(message: string): void {
    super.debug(this.note(message));
  }
  /** Milliseconds from the first line matching `from` to the next matching `to`. */
  between(from: RegExp, to: RegExp): number | undefined {
    const start = this.at.find((l) => from.test(l.message));
    const end = start && this.at.find((l) => l.ms >= start.ms && to.test(l.message));
    return start && end ? end.ms - start.ms : undefined;
  }
}

async function child(requestFile: string): Promise<void> {
  const settings = JSON.parse(await fs.readFile(requestFile, 'utf8')) as DeploySettings;
  const logger = new TimedLogger();
  const t = performance.now();
  const result = await deploy(settings, { logger });
  const phaseMs = performance.now() - t;
  const out: DeployChildResult = {
    phaseMs,
    installMs: logger.between(/^Installing \S+ from /, /^Installed \S+\/\S+: /),
    failed: result.failed,
    log: process.env.BENCH_VERBOSE ? logger.at.map((l) => `${l.ms.toFixed(1).padStart(7)} ms  ${l.message}`).join('\n') : undefined,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

// The installer's threads load this same bundle: they serve extractions instead.
if (inExtractWorker()) serveExtractions();
else await child(process.argv[2]);
