/** Certificates for TLS Routes made with openssl: a CA and host certificates (EC P-256, two days). */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface HostCert {
  /** PEM file paths. */
  cert: string;
  key: string;
  /** SHA-256 fingerprint, as tls.PeerCertificate#fingerprint256 shows it. */
  fingerprint: string;
}

/** Makes ca.pem / ca.key in `dir`; returns the CA certificate path. */
export async function makeRouteCa(dir: string): Promise<string> {
  await run('openssl', ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: dir });
  return path.join(dir, 'ca.pem');
}

/** A certificate for `names` (the first is the CN) signed by the CA of `dir`; one at a time per CA (serial file). */
export async function makeHostCert(dir: string, file: string, names: string[]): Promise<HostCert> {
  const san = names.map((n) => `DNS:${n}`).join(',');
  await writeFile(path.join(dir, `${file}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['req', ...EC, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${names[0]}`], { cwd: dir });
  await run('openssl', ['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${file}.pem`, '-days', '2', '-extfile', `${file}.ext`], { cwd: dir });
  const cert = path.join(dir, `${file}.pem`);
  return { cert, key: path.join(dir, `${file}.key`), fingerprint: new X509Certificate(await readFile(cert)).fingerprint256 };
}
