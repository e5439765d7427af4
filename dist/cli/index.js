#!/usr/bin/env node
import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 642:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  i: () => (/* binding */ main)
});

;// CONCATENATED MODULE: external "node:util"
const external_node_util_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");
;// CONCATENATED MODULE: ./src/phases/autotag.ts
async function autotag(_settings, _services) {
    throw new Error('autotag: not implemented yet');
}

;// CONCATENATED MODULE: ./src/phases/deploy.ts
async function deploy(_settings, _services) {
    throw new Error('deploy: not implemented yet');
}

;// CONCATENATED MODULE: ./src/phases/label.ts
async function label(_settings, _services) {
    throw new Error('label: not implemented yet');
}

;// CONCATENATED MODULE: ./src/phases/resolve.ts
async function resolve(_settings, _services) {
    throw new Error('resolve: not implemented yet');
}

;// CONCATENATED MODULE: ./src/phases/settings.ts
const DEFAULT_CHANNEL_ALIAS = 'https://conda.anaconda.org';
const DEFAULT_PLATFORM = 'linux-64';

;// CONCATENATED MODULE: ./src/util/errors.ts
/** Base class: every error gitenv raises on purpose. The message is meant for a person. */
class GitenvError extends Error {
    constructor(message, options) {
        super(message, options);
        this.name = new.target.name;
    }
}
/** Something the user got wrong: an input, an env.spec, a tag name. */
class ConfigurationError extends GitenvError {
    where;
    constructor(message, where = {}) {
        super(message);
        this.where = where;
    }
}
/** A command underneath (git, micromamba, python) failed. */
class CommandError extends GitenvError {
    command;
    args;
    exitCode;
    stderrTail;
    constructor(command, args, exitCode, stderrTail, summary) {
        super(`${summary ?? `${command} ${args.join(' ')} failed`} (exit code ${exitCode ?? 'signal'})` +
            (stderrTail ? `:\n${stderrTail}` : ''));
        this.command = command;
        this.args = args;
        this.exitCode = exitCode;
        this.stderrTail = stderrTail;
    }
}
/** A package could not be fetched, verified, extracted or linked. */
class PackageError extends GitenvError {
    packageName;
    constructor(packageName, message, options) {
        super(`${packageName}: ${message}`, options);
        this.packageName = packageName;
    }
}
/** A network request failed after its retries. The URL must already be free of credentials. */
class HttpError extends GitenvError {
    url;
    status;
    constructor(url, status, message, options) {
        super(message, options);
        this.url = url;
        this.status = status;
    }
}
/** One line for a person: the error's message, whatever was thrown. */
function errorMessage(err) {
    if (err instanceof Error)
        return err.message;
    return String(err);
}
/** The last `n` non-empty lines of a text (stderr tails in errors). */
function tailLines(text, n = 10) {
    return text
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l.length > 0)
        .slice(-n)
        .join('\n');
}

;// CONCATENATED MODULE: ./src/util/logger.ts
/** Replaces every registered secret (and its URL-encoded form) with `***`. */
class SecretMasker {
    secrets = new Set();
    add(secret) {
        if (!secret || secret.length < 3)
            return;
        this.secrets.add(secret);
        const encoded = encodeURIComponent(secret);
        if (encoded !== secret)
            this.secrets.add(encoded);
        this.secrets.add(Buffer.from(secret).toString('base64'));
    }
    mask(text) {
        let out = text;
        for (const s of this.secrets)
            out = out.split(s).join('***');
        return out;
    }
}
/** A logger that keeps every line in memory (tests, and the CLI's --quiet mode). */
class MemoryLogger {
    records = [];
    masker = new SecretMasker();
    info(message) {
        this.push('info', message);
    }
    warning(message, props) {
        this.push('warning', message, props);
    }
    error(message, props) {
        this.push('error', message, props);
    }
    debug(message) {
        this.push('debug', message);
    }
    async group(name, fn) {
        this.push('info', `▶ ${name}`);
        return fn();
    }
    setSecret(secret) {
        this.masker.add(secret);
    }
    lines(level) {
        return this.records.filter((r) => !level || r.level === level).map((r) => r.message);
    }
    text() {
        return this.records.map((r) => r.message).join('\n');
    }
    push(level, message, props) {
        this.records.push({ level, message: this.masker.mask(message), props });
    }
}
/** The CLI's logger: info to stdout, the rest to stderr, secrets masked, debug with GITENV_DEBUG. */
class ConsoleLogger {
    debugEnabled;
    masker = new SecretMasker();
    constructor(debugEnabled = Boolean(process.env.GITENV_DEBUG)) {
        this.debugEnabled = debugEnabled;
    }
    info(message) {
        process.stdout.write(this.masker.mask(message) + '\n');
    }
    warning(message, props) {
        process.stderr.write(`warning: ${this.where(props)}${this.masker.mask(message)}\n`);
    }
    error(message, props) {
        process.stderr.write(`error: ${this.where(props)}${this.masker.mask(message)}\n`);
    }
    debug(message) {
        if (this.debugEnabled)
            process.stderr.write(`debug: ${this.masker.mask(message)}\n`);
    }
    async group(_name, fn) {
        return fn();
    }
    setSecret(secret) {
        this.masker.add(secret);
    }
    where(props) {
        if (!props?.file)
            return '';
        return props.startLine ? `${props.file}:${props.startLine}: ` : `${props.file}: `;
    }
}

;// CONCATENATED MODULE: ./src/version.ts
/** gitenv's version; a unit test keeps it equal to package.json's. */
const VERSION = '0.1.0';

;// CONCATENATED MODULE: ./src/cli.ts









const USAGE = {
    resolve: 'gitenv resolve <repo> [--envs GLOB...] [--platform P] [--channel-alias URL] [--api-user U --api-key K] [--engine builtin|micromamba] [--dry-run]',
    autotag: 'gitenv autotag <repo> [--envs GLOB...] [--dry-run]',
    label: 'gitenv label <repo> <tag> [--next-only] [--label NAME] [--dry-run]',
    deploy: 'gitenv deploy <repo> <target> [--env-labels GLOB...] [--mirror URL] [--prune [--keep N]] [--pkg-cache DIR] [--api-user U --api-key K] [--engine builtin|micromamba] [--dry-run]',
};
const HELP = `gitenv ${VERSION}: conda environments deployed from a git repository.

Usage:
  ${Object.values(USAGE).join('\n  ')}

Common options:
  --envs GLOB      environments to act on (repeatable; default: all)
  --token TOKEN    token for https remotes (or GITENV_TOKEN); sent as a header, never logged
  --dry-run        plan and report, change nothing
  -h, --help       this text;  --version  the version

Credentials for channels come from --api-user/--api-key or GITENV_API_USER/GITENV_API_KEY.
`;
const OPTIONS = {
    envs: { type: 'string', multiple: true },
    token: { type: 'string' },
    'dry-run': { type: 'boolean' },
    platform: { type: 'string' },
    'channel-alias': { type: 'string' },
    'api-user': { type: 'string' },
    'api-key': { type: 'string' },
    engine: { type: 'string' },
    mode: { type: 'string' },
    'next-only': { type: 'boolean' },
    label: { type: 'string' },
    'env-labels': { type: 'string', multiple: true },
    mirror: { type: 'string' },
    prune: { type: 'boolean' },
    keep: { type: 'string' },
    'pkg-cache': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
};
class UsageError extends Error {
}
/** Runs the CLI; returns the exit code. Only this function touches argv and the exit code. */
async function main(argv, logger = new ConsoleLogger()) {
    let command;
    try {
        const { values, positionals } = (0,external_node_util_namespaceObject.parseArgs)({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
        if (values.version) {
            logger.info(VERSION);
            return 0;
        }
        command = positionals[0];
        if (values.help || command === 'help') {
            logger.info(command && USAGE[command] && command !== 'help' ? `usage: ${USAGE[command]}` : HELP.trimEnd());
            return 0;
        }
        if (!command)
            throw new UsageError('a command is required');
        const result = await dispatch(command, positionals.slice(1), values, logger);
        if (result.failed.length > 0) {
            const names = result.failed.map((f) => f.env).join(', ');
            logger.error(`gitenv ${command}: ${result.failed.length} environment(s) failed: ${names}`);
            return 1;
        }
        return 0;
    }
    catch (err) {
        if (err instanceof UsageError || (err instanceof TypeError && 'code' in err)) {
            logger.error(`${errorMessage(err)}\nusage: ${command && USAGE[command] ? USAGE[command] : Object.values(USAGE).join('\n       ')}`);
            return 2;
        }
        logger.error(`gitenv ${command}: ${errorMessage(err).split('\n')[0]}`);
        for (const line of errorMessage(err).split('\n').slice(1))
            logger.debug(line);
        return 1;
    }
}
function requireArgs(command, args, names) {
    if (args.length < names.length)
        throw new UsageError(`missing argument <${names[args.length]}>`);
    if (args.length > names.length)
        throw new UsageError(`unexpected argument "${args[names.length]}"`);
    return args;
}
function str(values, name) {
    const v = values[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
}
function list(values, name) {
    const v = values[name];
    return Array.isArray(v) ? v.flatMap((s) => s.split(',')).filter(Boolean) : [];
}
function engineOf(values) {
    const e = str(values, 'engine') ?? 'builtin';
    if (e !== 'builtin' && e !== 'micromamba')
        throw new ConfigurationError(`--engine must be builtin or micromamba, got "${e}"`);
    return e;
}
function common(values, repository, logger) {
    const token = str(values, 'token') ?? process.env.GITENV_TOKEN;
    if (token)
        logger.setSecret(token);
    return { repository, token, envs: list(values, 'envs'), dryRun: values['dry-run'] === true };
}
function credentials(values, logger) {
    const apiUser = str(values, 'api-user') ?? process.env.GITENV_API_USER;
    const apiKey = str(values, 'api-key') ?? process.env.GITENV_API_KEY;
    if (apiUser)
        logger.setSecret(apiUser);
    if (apiKey)
        logger.setSecret(apiKey);
    return { apiUser, apiKey };
}
async function dispatch(command, args, values, logger) {
    const services = { logger };
    switch (command) {
        case 'resolve': {
            const [repo] = requireArgs(command, args, ['repo']);
            const mode = (str(values, 'mode') ?? 'push');
            return resolve({
                ...common(values, repo, logger),
                ...credentials(values, logger),
                platform: str(values, 'platform') ?? DEFAULT_PLATFORM,
                channelAlias: str(values, 'channel-alias') ?? DEFAULT_CHANNEL_ALIAS,
                engine: engineOf(values),
                mode,
            }, services);
        }
        case 'autotag': {
            const [repo] = requireArgs(command, args, ['repo']);
            return autotag(common(values, repo, logger), services);
        }
        case 'label': {
            const [repo, tag] = requireArgs(command, args, ['repo', 'tag']);
            return label({ ...common(values, repo, logger), tag, nextOnly: values['next-only'] === true, label: str(values, 'label') }, services);
        }
        case 'deploy': {
            const [repo, target] = requireArgs(command, args, ['repo', 'target']);
            const keep = Number(str(values, 'keep') ?? '2');
            if (!Number.isInteger(keep) || keep < 0)
                throw new ConfigurationError('--keep must be a whole number');
            const envLabels = list(values, 'env-labels');
            return deploy({
                ...common(values, repo, logger),
                ...credentials(values, logger),
                target,
                envLabels: envLabels.length > 0 ? envLabels : ['*'],
                mirror: str(values, 'mirror'),
                engine: engineOf(values),
                prune: values.prune === true,
                keep,
                pkgCache: str(values, 'pkg-cache'),
            }, services);
        }
        default:
            throw new UsageError(`unknown command "${command}"`);
    }
}


/***/ }),

/***/ 546:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _cli_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(642);

process.exitCode = await (0,_cli_js__WEBPACK_IMPORTED_MODULE_0__/* .main */ .i)(process.argv.slice(2));

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(546);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
