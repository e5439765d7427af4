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

/** A logger that keeps every line in memory (tests read it back). */
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

/** The CLI's logger: info to stdout, the rest to stderr, secrets masked, debug with GITENV_DEBUG. */
export class ConsoleLogger implements Logger {
  private readonly masker = new SecretMasker();
  constructor(private readonly debugEnabled = Boolean(process.env.GITENV_DEBUG)) {}

  info(message: string): void {
    process.stdout.write(this.masker.mask(message) + '\n');
  }
  warning(message: string, props?: AnnotationProperties): void {
    process.stderr.write(`warning: ${this.where(props)}${this.masker.mask(message)}\n`);
  }
  error(message: string, props?: AnnotationProperties): void {
    process.stderr.write(`error: ${this.where(props)}${this.masker.mask(message)}\n`);
  }
  debug(message: string): void {
    if (this.debugEnabled) process.stderr.write(`debug: ${this.masker.mask(message)}\n`);
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
