import { CONDARC_KEYS } from '../conda/condarc.js';
import { configureSiteNetwork } from '../net/site-network.js';
import type { Logger } from '../util/logger.js';
import type { SiteSettings } from './settings.js';

/**
 * What a front end does once per process before a phase runs: say which condarc keys were not
 * read, and install the site's proxies and CA certificates for every request (and git's).
 */
export function applySiteSettings(site: SiteSettings | undefined, logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  const rc = site?.condarc;
  if (rc && rc.ignored.length > 0) {
    logger.warning(`condarc ${rc.file}: ignored ${rc.ignored.join(', ')} (gitenv reads only ${CONDARC_KEYS.join(', ')})`);
  }
  configureSiteNetwork({ env, logger, proxyServers: rc?.proxyServers, sslVerify: rc?.sslVerify });
}
