/**
 * A site's network, as its other tools see it: the proxy variables (HTTPS_PROXY, HTTP_PROXY,
 * NO_PROXY, either case), extra CA certificates (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, condarc's
 * `ssl_verify: <path>`) and `ssl_verify: false`. Installed once by a front end as undici's global
 * dispatcher (undici's ProxyAgent per scheme, chosen by NO_PROXY as curl reads it), which every fetch of the process goes through: repodata,
 * packages, the WASM solver's own requests, the GitHub API. Child processes (git, micromamba) get
 * the lower-case variables curl reads.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { Agent, Dispatcher, ProxyAgent, setGlobalDispatcher } from 'undici';
import { ConfigurationError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export interface SiteNetworkOptions {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** condarc `proxy_servers`: scheme → proxy URL; the environment's variables win. */
  proxyServers?: { http?: string; https?: string };
  /** condarc `ssl_verify`: false, or a CA bundle's path. */
  sslVerify?: boolean | string;
}

interface Proxies {
  http?: string;
  https?: string;
  noProxy: string[];
}

let active: Proxies = { noProxy: [] };

const first = (...values: (string | undefined)[]): string | undefined => values.find((v) => v !== undefined && v.trim() !== '')?.trim();

function proxiesFrom(options: SiteNetworkOptions): Proxies {
  const { env } = options;
  return {
    https: first(env.https_proxy, env.HTTPS_PROXY, options.proxyServers?.https),
    http: first(env.http_proxy, env.HTTP_PROXY, options.proxyServers?.http),
    noProxy: (first(env.no_proxy, env.NO_PROXY) ?? '').split(/[\s,]+/).filter(Boolean),
  };
}

/** A proxy URL for log lines and errors: its credentials replaced. */
export function shownProxy(proxy: string): string {
  return proxy.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

function checkProxy(name: string, proxy: string | undefined, logger: Logger): void {
  if (!proxy) return;
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new ConfigurationError(`${name} "${shownProxy(proxy)}" is not a URL (write it as http://host:port)`);
  }
  if (url.password) logger.setSecret(decodeURIComponent(url.password));
  if (url.username && url.password) logger.setSecret(decodeURIComponent(`${url.username}:${url.password}`));
}

/** True when NO_PROXY exempts the host (names, `.suffix`, `host:port`, `*`), as curl reads it. */
function exempt(url: URL, noProxy: string[]): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    const m = /^(.*):(\d+)$/.exec(entry.toLowerCase());
    const [name, entryPort] = m ? [m[1], m[2]] : [entry.toLowerCase(), undefined];
    if (entryPort && entryPort !== port) return false;
    const bare = name.replace(/^\*?\./, '');
    return host === bare || host.endsWith(`.${bare}`);
  });
}

/** The proxy a request to `url` goes through, shown without credentials; undefined when none. */
export function proxyFor(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const proxy = parsed.protocol === 'https:' ? active.https : parsed.protocol === 'http:' ? active.http : undefined;
  return proxy && !exempt(parsed, active.noProxy) ? shownProxy(proxy) : undefined;
}

/**
 * undici's ProxyAgent for each proxied scheme and a plain Agent for the rest, picked per request
 * by the same rule proxyFor() states (undici's EnvHttpProxyAgent does the same but warns on
 * stderr that it is experimental, which a CLI whose output scripts read cannot have).
 */
class SiteDispatcher extends Dispatcher {
  private readonly direct: Agent;
  private readonly viaHttp?: ProxyAgent;
  private readonly viaHttps?: ProxyAgent;

  constructor(
    private readonly proxies: Proxies,
    tlsOptions: tls.ConnectionOptions,
  ) {
    super();
    this.direct = new Agent({ connect: tlsOptions });
    const agent = (uri: string) => new ProxyAgent({ uri, requestTls: tlsOptions, proxyTls: tlsOptions, connect: tlsOptions });
    this.viaHttp = proxies.http ? agent(proxies.http) : undefined;
    this.viaHttps = proxies.https ? (proxies.https === proxies.http ? this.viaHttp : agent(proxies.https)) : undefined;
  }

  private pick(origin: string | URL | undefined): Dispatcher {
    const url = new URL(String(origin));
    if (exempt(url, this.proxies.noProxy)) return this.direct;
    return (url.protocol === 'https:' ? this.viaHttps : this.viaHttp) ?? this.direct;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    return this.pick(options.origin).dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await Promise.all(
      [...new Set([this.direct, this.viaHttp, this.viaHttps])].map(async (d) => {
        await d?.close();
      }),
    );
  }

  override async destroy(): Promise<void> {
    await Promise.all(
      [...new Set([this.direct, this.viaHttp, this.viaHttps])].map(async (d) => {
        await d?.destroy();
      }),
    );
  }
}

/** The extra CA certificates the site gave, in PEM. */
function extraCertificates(options: SiteNetworkOptions): { pem: string[]; sources: string[] } {
  const files: [string, string | undefined][] = [
    ['SSL_CERT_FILE', options.env.SSL_CERT_FILE],
    ['NODE_EXTRA_CA_CERTS', options.env.NODE_EXTRA_CA_CERTS],
    ['condarc ssl_verify', typeof options.sslVerify === 'string' ? options.sslVerify : undefined],
  ];
  const pem: string[] = [];
  const sources: string[] = [];
  for (const [name, file] of files) {
    if (!file) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigurationError(`${name} names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0) throw new ConfigurationError(`${name} names ${file}, which holds no PEM certificate`);
    pem.push(...certs);
    sources.push(`${name} (${file})`);
  }
  return { pem, sources };
}

/**
 * Installs the site's proxies and certificates for every request of this process. Returns the
 * dispatcher installed (undefined when the defaults serve: no proxy, no extra certificate).
 */
export function configureSiteNetwork(options: SiteNetworkOptions): Dispatcher | undefined {
  const { logger, env } = options;
  const proxies = proxiesFrom(options);
  checkProxy('HTTPS_PROXY', proxies.https, logger);
  checkProxy('HTTP_PROXY', proxies.http, logger);
  active = proxies;
  const certs = extraCertificates(options);
  const verify = options.sslVerify !== false;
  if (!verify) logger.warning('condarc ssl_verify is false: TLS certificates are not checked; anyone on the path can change what is downloaded (sha256 checks of packages still apply)');
  if (!proxies.http && !proxies.https && certs.pem.length === 0 && verify) return undefined;

  // Child processes: curl (git) reads http_proxy only in lower case, and no CA but its own.
  if (proxies.http && !env.http_proxy) env.http_proxy = proxies.http;
  if (proxies.https && !env.https_proxy) env.https_proxy = proxies.https;
  if (proxies.noProxy.length > 0 && !env.no_proxy) env.no_proxy = proxies.noProxy.join(',');

  const tlsOptions = {
    ...(certs.pem.length > 0 ? { ca: [...tls.rootCertificates, ...certs.pem] } : {}),
    ...(verify ? {} : { rejectUnauthorized: false }),
  };
  const dispatcher = new SiteDispatcher(proxies, tlsOptions);
  setGlobalDispatcher(dispatcher);
  if (proxies.https) logger.debug(`Requests to https:// go through the proxy ${shownProxy(proxies.https)}`);
  if (proxies.http && proxies.http !== proxies.https) logger.debug(`Requests to http:// go through the proxy ${shownProxy(proxies.http)}`);
  if (certs.sources.length > 0) logger.debug(`Extra CA certificates from ${certs.sources.join(', ')}`);
  return dispatcher;
}
