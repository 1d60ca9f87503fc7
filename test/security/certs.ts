/**
 * A throwaway certificate authority for the security tests, made with the machine's openssl:
 * a self-signed CA, a server certificate it signs for 127.0.0.1 / localhost, and a second,
 * unrelated CA (a client trusting only that one must refuse the brokers).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Files and PEM text of one test PKI. */
export interface TestPki {
  /** Directory holding every file below; {@link TestPki.destroy} removes it. */
  readonly dir: string;
  /** The CA certificate (PEM text): what clients trust. */
  readonly caPem: string;
  readonly caFile: string;
  /** Server certificate (PEM) for IP 127.0.0.1 and DNS localhost, signed by the CA. */
  readonly serverCertFile: string;
  /** Its unencrypted PKCS#8 private key (PEM). */
  readonly serverKeyFile: string;
  /** Key then certificate in one PEM file (Kafka's `ssl.keystore.type=PEM` reads this). */
  readonly serverKeystoreFile: string;
  /** A CA that signed nothing here (PEM text): trusting only it must fail the TLS handshake. */
  readonly otherCaPem: string;
  /** Remove the directory. */
  destroy(): void;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(err)}`, { cause: err });
  }
}

/** Make a CA and a server certificate in a new temp dir (about 100 ms with EC keys). */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobbus-pki-'));
  try {
    // EC P-256 keys: generated in milliseconds, and both Java 17 and Node accept them.
    const key = (name: string): void => openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
    const selfSigned = (keyFile: string, cn: string, out: string): void =>
      openssl(dir, ['req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', '2', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', out]);
    key('ca.key');
    selfSigned('ca.key', 'jobbus test CA', 'ca.pem');
    key('other-ca.key');
    selfSigned('other-ca.key', 'jobbus unrelated CA', 'other-ca.pem');
    key('server.key');
    openssl(dir, ['req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr']);
    fs.writeFileSync(
      path.join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
    );
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
      '-sha256', '-extfile', 'server.ext', '-out', 'server.pem']);
    const file = (name: string): string => path.join(dir, name);
    fs.writeFileSync(file('server-keystore.pem'), fs.readFileSync(file('server.key'), 'utf8') + fs.readFileSync(file('server.pem'), 'utf8'));
    return {
      dir,
      caPem: fs.readFileSync(file('ca.pem'), 'utf8'),
      caFile: file('ca.pem'),
      serverCertFile: file('server.pem'),
      serverKeyFile: file('server.key'),
      serverKeystoreFile: file('server-keystore.pem'),
      otherCaPem: fs.readFileSync(file('other-ca.pem'), 'utf8'),
      destroy: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
