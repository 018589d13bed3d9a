import { pino, type Logger } from 'pino';

/** Characters a log line must never carry raw: controls (ESC sequences, CR), bidi and other format characters. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;
const BARE = /^[^\s"=\\\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]+$/u;

/**
 * logfmt value: bare when safe, else a quoted string with JSON escapes (as go-kit/log does). Values may come from
 * any local process (a QEMU-like argv), so control and format characters are escaped too, never written raw.
 */
function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (BARE.test(s)) return s;
  // Each UTF-16 unit escaped: a format character beyond U+FFFF is a surrogate pair.
  const escape = (c: string) =>
    c
      .split('')
      .map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join('');
  return JSON.stringify(s).replace(UNSAFE, escape);
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Turns one pino JSON line into `ts=… level=… msg=… key=value…`. */
export function toLogfmt(line: string): string {
  const rec = JSON.parse(line) as Record<string, unknown>;
  const { time, level, msg, ...rest } = rec;
  const parts = [
    `ts=${new Date(Number(time)).toISOString()}`,
    `level=${LEVELS[Number(level)] ?? String(level)}`,
    `msg=${logfmtValue(msg ?? '')}`,
  ];
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) parts.push(`${k}=${logfmtValue(v)}`);
  return parts.join(' ') + '\n';
}

export function createLogger(
  level: string,
  format: 'json' | 'logfmt',
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const opts = { level, base: null };
  if (format === 'json') return pino(opts, out);
  return pino(opts, { write: (line: string) => out.write(toLogfmt(line)) });
}
