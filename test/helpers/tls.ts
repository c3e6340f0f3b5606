/** Test certificates made with openssl (a CA, a server certificate for 127.0.0.1, client certificates), and one HTTP(S) request. */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCerts {
  dir: string;
  /** PEM file paths. */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** CN=ci-runner, signed by `ca`. */
  clientCert: string;
  clientKey: string;
  /** CN=stranger, signed by `ca` but named by no client policy of the tests. */
  strangerCert: string;
  strangerKey: string;
  /** CN=ci-runner too, but signed by another CA. */
  otherCert: string;
  otherKey: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

async function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Makes every certificate in `dir` (which the caller created and removes). */
export async function makeCerts(dir: string): Promise<TestCerts> {
  await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'other-ca')]);
  // one leaf per CA at a time (-CAcreateserial writes the CA's serial file); the two CAs side by side
  const ours = async (): Promise<void> => {
    await makeLeaf(dir, 'ca', 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    await makeLeaf(dir, 'ca', 'client', 'ci-runner', 'extendedKeyUsage=clientAuth\n');
    await makeLeaf(dir, 'ca', 'stranger', 'stranger', 'extendedKeyUsage=clientAuth\n');
  };
  await Promise.all([ours(), makeLeaf(dir, 'other-ca', 'other', 'ci-runner', 'extendedKeyUsage=clientAuth\n')]);
  const f = (n: string): string => path.join(dir, n);
  return { dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), strangerCert: f('stranger.pem'), strangerKey: f('stranger.key'), otherCert: f('other.pem'), otherKey: f('other.key') };
}

export interface Answer {
  status: number;
  body: string;
}

/** One request (a fresh connection each time); `ca`, `cert`, `key` are PEM file paths. Rejects when the connection or handshake fails. */
export async function request(url: string, opts: { method?: string; token?: string; ca?: string; cert?: string; key?: string; body?: string } = {}): Promise<Answer> {
  const [ca, cert, key] = await Promise.all([opts.ca, opts.cert, opts.key].map((f) => (f ? readFile(f) : undefined)));
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(u, {
      method: opts.method ?? 'GET', agent: false, timeout: 10_000,
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body ? { 'content-type': 'application/json' } : {}) },
      ...(secure ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
