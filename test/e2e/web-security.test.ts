/**
 * --web.config.file (exporter-toolkit format) against real clients: TLS with certificates made here by openssl,
 * basic auth with bcrypt, client certificates, reloading without a restart; plus the HTTP limits.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { requireTool } from '../support/require-tool.js';

const host1 = fileURLToPath(new URL('../fixtures/host1', import.meta.url));
const fixtureFlags = [
  `--path.procfs=${host1}/proc`,
  `--path.sysfs=${host1}/sys`,
  `--path.rootfs=${host1}/rootfs`,
  `--libvirt.status-dir=${host1}/run/libvirt/qemu`,
];
let dir: string;
const pem = (name: string): Buffer => readFileSync(join(dir, name));

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): void {
  const openssl = requireTool('openssl');
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

interface Answer {
  status: number;
  body: string;
}

function get(
  url: string,
  opts: {
    user?: string;
    password?: string;
    clientCert?: boolean;
    headers?: Record<string, string>;
    method?: string;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.user !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`;
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        headers,
        ca: pem('ca.crt'),
        ...(opts.clientCert ? { cert: pem('client.crt'), key: pem('client.key') } : {}),
      },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => {
            body += c;
          })
          .on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function writeConfig(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

const hash = (password: string) => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$'); // htpasswd -B writes $2y$

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'qte-tls-'));
  makeCertificates();
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS and basic auth', () => {
  let cli: Cli;
  let config: string;
  before(async () => {
    config = writeConfig(
      'web.yml',
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nhttp_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\nbasic_auth_users:\n  prometheus: ${hash('s3cret')}\n`,
    );
    cli = await startCli([...fixtureFlags, `--web.config.file=${config}`]);
  });
  after(async () => {
    await cli.terminate();
  });
  const https = () => cli.url.replace('http:', 'https:');

  test('right credentials 200, wrong or none 401', async () => {
    const ok = await get(`${https()}/metrics`, { user: 'prometheus', password: 's3cret' });
    assert.equal(ok.status, 200);
    assert.equal(value(ok.body, 'qemu_threads', { domain: 'vm1', role: 'vcpu' }), 4);
    assert.equal((await get(`${https()}/metrics`, { user: 'prometheus', password: 'wrong' })).status, 401);
    assert.equal((await get(`${https()}/metrics`, { user: 'nobody', password: 's3cret' })).status, 401);
    assert.equal((await get(`${https()}/metrics`)).status, 401);
  });

  test('plain HTTP to the TLS port fails', async () => {
    await assert.rejects(fetch(`${cli.url}/metrics`));
  });

  test('a changed file takes effect without a restart; a broken one is ignored', async () => {
    writeConfig('web.yml', readFileSync(config, 'utf8').replace(/prometheus: .*/, `prometheus: ${hash('n3w')}`));
    await sleep(1100); // re-read at most once a second
    await get(`${https()}/-/healthy`, { user: 'prometheus', password: 'n3w' }); // the request that notices the change
    assert.equal((await get(`${https()}/metrics`, { user: 'prometheus', password: 'n3w' })).status, 200);
    assert.equal((await get(`${https()}/metrics`, { user: 'prometheus', password: 's3cret' })).status, 401);
    writeConfig('web.yml', 'basic_auth_users: [not a mapping\n');
    await sleep(1100);
    await get(`${https()}/-/healthy`, { user: 'prometheus', password: 'n3w' });
    assert.equal((await get(`${https()}/metrics`, { user: 'prometheus', password: 'n3w' })).status, 200);
    assert.ok(cli.logs.some((l) => l.includes('web config change ignored')));
  });
});

test('client certificates: RequireAndVerifyClientCert rejects a client without one', async () => {
  const config = writeConfig(
    'mtls.yml',
    'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n',
  );
  const cli = await startCli([...fixtureFlags, `--web.config.file=${config}`]);
  try {
    const https = cli.url.replace('http:', 'https:');
    assert.equal((await get(`${https}/metrics`, { clientCert: true })).status, 200);
    await assert.rejects(get(`${https}/metrics`));
  } finally {
    await cli.terminate();
  }
});

test('a bad web config refuses to start with a clear message', () => {
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  for (const [yaml, reason] of [
    ['tls_server_config:\n  cert_file: server.crt\n', /missing key_file/],
    ['tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n', /cert_file "nope.crt": ENOENT/],
    ['basic_auth_users:\n  admin: plaintext\n', /bcrypt/],
    ['http_server_config:\n  headers:\n    Set-Cookie: x\n', /cannot be set/],
    [
      'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Sometimes\n',
      /client_auth_type/,
    ],
    ['unknown_section: {}\n', /unknown field/],
  ] as const) {
    const path = writeConfig('bad.yml', yaml);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', main, `--web.config.file=${path}`, '--web.listen-address=127.0.0.1:0'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 2, yaml);
    assert.match(r.stderr, reason);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

describe('HTTP limits', () => {
  let cli: Cli;
  before(async () => {
    cli = await startCli([...fixtureFlags, '--web.max-requests=2']);
  });
  after(async () => {
    await cli.terminate();
  });

  test('requests beyond --web.max-requests get 503', async () => {
    // 20 connections first, then 20 requests written while the exporter is stopped (SIGSTOP): when it goes on, it
    // finds all 20 readable in one turn of its event loop and takes them in before the first scrape (which yields
    // between VMs) can answer. Without the stop, a fast scrape can answer each before the next arrives.
    const { hostname, port } = new URL(cli.url);
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect(Number(port), hostname, () => {
              resolve(s);
            }).on('error', reject);
          }),
      ),
    );
    const answers = sockets.map(
      (s) =>
        new Promise<string>((resolve) => {
          let got = '';
          s.setEncoding('utf8')
            .on('data', (d: string) => {
              got += d;
            })
            .on('close', () => {
              resolve(got);
            });
        }),
    );
    process.kill(cli.pid, 'SIGSTOP');
    try {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.write(`GET /metrics HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`, () => {
                resolve();
              });
            }),
        ),
      );
    } finally {
      process.kill(cli.pid, 'SIGCONT');
    }
    const statuses = (await Promise.all(answers)).map((a) => Number(/^HTTP\/1\.1 (\d{3})/.exec(a)?.[1]));
    assert.ok(statuses.includes(503), String(statuses));
    assert.ok(statuses.includes(200), String(statuses));
    assert.ok(statuses.every((s) => s === 200 || s === 503));
    assert.equal((await fetch(`${cli.url}/metrics`)).status, 200, 'the limit frees up');
  });

  test('only GET and HEAD; unknown paths 404; no internals in answers', async () => {
    const post = await fetch(`${cli.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${cli.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const missing = await fetch(`${cli.url}/../../etc/passwd`);
    assert.equal(missing.status, 404);
    const body = await missing.text();
    assert.ok(!/\/work|node_modules|at .*\.ts|Error/.test(body), body);
  });

  test('the landing page carries security headers', async () => {
    const res = await fetch(`${cli.url}/`);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  });

  test("a scrape past its deadline (Prometheus's timeout header) is partial and says so", async () => {
    const res = await fetch(`${cli.url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '0.0001' } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(value(text, 'qemu_exporter_source_success', { source: 'procfs' }), 0);
    assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'procfs', reason: 'timeout' }) ?? 0) >= 1);
    const full = await (
      await fetch(`${cli.url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '10' } })
    ).text();
    assert.equal(value(full, 'qemu_threads', { domain: 'vm1', role: 'vcpu' }), 4);
  });
});
