import * as core from '@actions/core';
import type { AnnotationProperties, Logger } from '../util/logger.js';

/** The core's Logger on top of @actions/core (which masks what setSecret registered). */
export class CoreLogger implements Logger {
  /** @param debugShown debug lines as plain log lines (`log-level: debug`), not only under ACTIONS_STEP_DEBUG. */
  constructor(private readonly debugShown = false) {}

  info(message: string): void {
    core.info(message);
  }
  warning(message: string, props?: AnnotationProperties): void {
    core.warning(message, props);
  }
  error(message: string, props?: AnnotationProperties): void {
    core.error(message, props);
  }
  debug(message: string): void {
    if (this.debugShown) core.info(`debug: ${message}`);
    else core.debug(message);
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(name, fn);
  }
  setSecret(secret: string): void {
    if (secret) core.setSecret(secret);
  }
}
