import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { SecureVersion } from 'node:tls';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';

/**
 * `--web.config.file` in prometheus/exporter-toolkit's format, so an existing Prometheus setup works unchanged:
 * tls_server_config, http_server_config.headers, basic_auth_users (bcrypt). Relative file names are resolved
 * against the config file's directory, as exporter-toolkit does.
 */
export class WebConfigError extends Error {
  override readonly name = 'WebConfigError';
}

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export interface TlsConfig {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  clientAuth: ClientAuthType;
  minVersion: SecureVersion;
  maxVersion: SecureVersion | undefined;
}

export interface WebConfig {
  tls: TlsConfig | undefined;
  headers: Record<string, string>;
  /** user → bcrypt hash; empty: no authentication. */
  users: Map<string, string>;
}

const TLS_VERSIONS: Record<string, SecureVersion> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};
/** The response headers exporter-toolkit lets a config set. */
const HEADERS = [
  'Content-Security-Policy',
  'X-Frame-Options',
  'X-Content-Type-Options',
  'X-XSS-Protection',
  'Strict-Transport-Security',
];
/** Go-only TLS knobs Node has no equivalent for: accepted so a shared config still loads, and ignored. */
const IGNORED_TLS_KEYS = ['cipher_suites', 'curve_preferences', 'prefer_server_cipher_suites'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function section(parent: Obj, key: string, allowed: string[]): Obj | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new WebConfigError(`${key}: want a mapping`);
  for (const k of Object.keys(v))
    if (!allowed.includes(k)) throw new WebConfigError(`${key}: unknown field ${JSON.stringify(k)}`);
  return v;
}

function str(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new WebConfigError(`${where}.${key}: want a string`);
  return v;
}

async function readPem(base: string, file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(resolve(base, file));
  } catch (err) {
    throw new WebConfigError(
      `${what} ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Reads, validates and loads a web config file with the certificates it names. Throws WebConfigError. */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new WebConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new WebConfigError(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw new WebConfigError(`${path}: want a mapping at the top`);
  for (const k of Object.keys(doc)) {
    if (!['tls_server_config', 'http_server_config', 'basic_auth_users'].includes(k))
      throw new WebConfigError(`${path}: unknown field ${JSON.stringify(k)}`);
  }
  const base = dirname(path);

  let tls: TlsConfig | undefined;
  const t = section(doc, 'tls_server_config', [
    'cert_file',
    'key_file',
    'client_auth_type',
    'client_ca_file',
    'min_version',
    'max_version',
    ...IGNORED_TLS_KEYS,
  ]);
  if (t) {
    const where = 'tls_server_config';
    const certFile = str(t, 'cert_file', where);
    const keyFile = str(t, 'key_file', where);
    if (!certFile) throw new WebConfigError(`${where}: missing cert_file`);
    if (!keyFile) throw new WebConfigError(`${where}: missing key_file`);
    const clientAuth = (str(t, 'client_auth_type', where) ?? 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH_TYPES.includes(clientAuth))
      throw new WebConfigError(`${where}.client_auth_type: want one of ${CLIENT_AUTH_TYPES.join(', ')}`);
    const caFile = str(t, 'client_ca_file', where);
    if (!caFile && (clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven'))
      throw new WebConfigError(`${where}: client_auth_type ${clientAuth} needs client_ca_file`);
    const version = (key: string): SecureVersion | undefined => {
      const v = str(t, key, where);
      if (v === undefined) return undefined;
      const s = TLS_VERSIONS[v];
      if (!s) throw new WebConfigError(`${where}.${key}: want one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
      return s;
    };
    const minVersion = version('min_version') ?? 'TLSv1.2';
    const maxVersion = version('max_version');
    if (maxVersion && maxVersion < minVersion) throw new WebConfigError(`${where}: max_version is below min_version`);
    tls = {
      cert: await readPem(base, certFile, 'cert_file'),
      key: await readPem(base, keyFile, 'key_file'),
      ca: caFile ? await readPem(base, caFile, 'client_ca_file') : undefined,
      clientAuth,
      minVersion,
      maxVersion,
    };
  }

  const headers: Record<string, string> = {};
  const h = section(doc, 'http_server_config', ['headers', 'http2']);
  if (h && h.headers !== undefined && h.headers !== null) {
    if (!isObj(h.headers)) throw new WebConfigError('http_server_config.headers: want a mapping');
    for (const [name, value] of Object.entries(h.headers)) {
      if (!HEADERS.includes(name))
        throw new WebConfigError(
          `http_server_config.headers: ${JSON.stringify(name)} cannot be set (allowed: ${HEADERS.join(', ')})`,
        );
      if (typeof value !== 'string' || /[\r\n]/.test(value))
        throw new WebConfigError(`http_server_config.headers.${name}: want a one-line string`);
      headers[name] = value;
    }
  }

  const users = new Map<string, string>();
  const u = doc.basic_auth_users;
  if (u !== undefined && u !== null) {
    if (!isObj(u)) throw new WebConfigError('basic_auth_users: want a mapping of user: bcrypt hash');
    for (const [user, hash] of Object.entries(u)) {
      if (typeof hash !== 'string' || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash))
        throw new WebConfigError(`basic_auth_users.${user}: want a bcrypt hash ($2y$, $2a$ or $2b$)`);
      users.set(user, hash);
    }
  }
  return { tls, headers, users };
}

/**
 * Checks HTTP basic credentials. bcrypt is slow by design (~50–100 ms a check at cost 10), so a successful
 * check is remembered, keyed by user, password and hash, like exporter-toolkit's cache.
 */
export class BasicAuth {
  private readonly ok = new Set<string>();

  check(users: Map<string, string>, header: string | undefined): boolean {
    if (users.size === 0) return true;
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const hash = users.get(user);
    if (hash === undefined) return false;
    const key = `${user}\0${decoded.slice(colon + 1)}\0${hash}`;
    if (this.ok.has(key)) return true;
    if (!bcrypt.compareSync(decoded.slice(colon + 1), hash)) return false;
    if (this.ok.size > 1000) this.ok.clear();
    this.ok.add(key);
    return true;
  }
}
