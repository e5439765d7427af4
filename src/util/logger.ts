/** Where a message points inside the user's repository (becomes a GitHub annotation). */
export interface AnnotationProperties {
  file?: string;
  startLine?: number;
  title?: string;
}

/**
 * The one logging interface the core uses. The action front end maps it onto @actions/core,
 * the CLI onto stdout/stderr; tests record it. Every implementation masks registered secrets.
 */
export interface Logger {
  info(message: string): void;
  warning(message: string, props?: AnnotationProperties): void;
  error(message: string, props?: AnnotationProperties): void;
  debug(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setSecret(secret: string): void;
}

/** Replaces every registered secret (and its URL-encoded form) with `***`. */
export class SecretMasker {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (!secret || secret.length < 3) return;
    this.secrets.add(secret);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) this.secrets.add(encoded);
    this.secrets.add(Buffer.from(secret).toString('base64'));
  }

  mask(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }
}

export type LogLevel = 'info' | 'warning' | 'error' | 'debug';

export interface LogRecord {
  level: LogLevel;
  message: string;
  props?: AnnotationProperties;
}

/** A logger that keeps every line in memory (tests, and the CLI's --quiet mode). */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[] = [];
  private readonly masker = new SecretMasker();

  info(message: string): void {
    this.push('info', message);
  }
  warning(message: string, props?: AnnotationProperties): void {
    this.push('warning', message, props);
  }
  error(message: string, props?: AnnotationProperties): void {
    this.push('error', message, props);
  }
  debug(message: string): void {
    this.push('debug', message);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.push('info', `▶ ${name}`);
    return fn();
  }
  setSecret(secret: string): void {
    this.masker.add(secret);
  }
  lines(level?: LogLevel): string[] {
    return this.records.filter((r) => !level || r.level === level).map((r) => r.message);
  }
  text(): string {
    return this.records.map((r) => r.message).join('\n');
  }
  private push(level: LogLevel, message: string, props?: AnnotationProperties): void {
    this.records.push({ level, message: this.masker.mask(message), props });
  }
}

/** Streams whose reader went away (`gitenv deploy ... | head -1`): written to no more. */
const closedStreams = new WeakSet<NodeJS.WritableStream>();

/**
 * Stops a closed pipe from ending the process with an unhandled EPIPE: what follows is dropped and
 * the work goes on to its end (a deploy stopped half-way would leave its staging behind).
 */
export function ignoreClosedPipes(...streams: NodeJS.WriteStream[]): void {
  for (const stream of streams) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      closedStreams.add(stream);
    });
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (!closedStreams.has(stream)) stream.write(text);
}

/** The CLI's logger: info to stdout, the rest to stderr, secrets masked, debug with --verbose or GITENV_DEBUG. */
export class ConsoleLogger implements Logger {
  private readonly masker = new SecretMasker();
  constructor(public debugEnabled = Boolean(process.env.GITENV_DEBUG)) {}

  info(message: string): void {
    write(process.stdout, this.masker.mask(message) + '\n');
  }
  warning(message: string, props?: AnnotationProperties): void {
    write(process.stderr, `warning: ${this.where(props)}${this.masker.mask(message)}\n`);
  }
  error(message: string, props?: AnnotationProperties): void {
    write(process.stderr, `error: ${this.where(props)}${this.masker.mask(message)}\n`);
  }
  debug(message: string): void {
    if (this.debugEnabled) write(process.stderr, `debug: ${this.masker.mask(message)}\n`);
  }
  async group<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }
  setSecret(secret: string): void {
    this.masker.add(secret);
  }
  private where(props?: AnnotationProperties): string {
    if (!props?.file) return '';
    return props.startLine ? `${props.file}:${props.startLine}: ` : `${props.file}: `;
  }
}
