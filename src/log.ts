import { pino, type Logger } from 'pino';

/** logfmt value: bare when safe, else a quoted string with JSON escapes (as go-kit/log does). */
function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s);
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

export function createLogger(level: string, format: 'json' | 'logfmt', out: NodeJS.WritableStream = process.stderr): Logger {
  const opts = { level, base: null };
  if (format === 'json') return pino(opts, out);
  return pino(opts, { write: (line: string) => out.write(toLogfmt(line)) });
}
