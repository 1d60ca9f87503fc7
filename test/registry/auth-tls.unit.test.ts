/**
 * Registry credentials and TLS options reach the wire: a stand-in registry (node http/https)
 * records the Authorization header and answers 401 without it; an https one is trusted through
 * `tls.ca` and refused (not retryable) when the CA is another.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createSchemaRegistry } from '../../src/eventbus/schema/index.js';
import { AuthenticationError, UnavailableError } from '../../src/errors.js';
import { makeTestPki } from '../security/certs.js';

const seen: (string | undefined)[] = [];
function answer(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req.headers.authorization);
  const ok = req.headers.authorization === 'Basic ' + Buffer.from('ada:s3cret').toString('base64') || req.headers.authorization === 'Bearer t0ken';
  res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify(ok ? { compatibilityLevel: 'FULL' } : { error_code: 40101, message: 'Unauthorized' }));
}
const servers: Server[] = [];
async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `${(server.address() as AddressInfo).port}`;
}
const pki = makeTestPki();
afterAll(() => {
  for (const s of servers) s.close();
  pki.destroy();
});

describe('registry auth and TLS pass through', () => {
  it('basic and bearer credentials are sent; none is an AuthenticationError naming the registry', async () => {
    const port = await listen(createHttp(answer));
    const host = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    expect(await createSchemaRegistry({ host, auth: { username: 'ada', password: 's3cret' } }).getCompatibility('s')).toBe('FULL');
    expect(await createSchemaRegistry({ host, auth: { token: 't0ken' } }).getCompatibility('s')).toBe('FULL');
    const err = await createSchemaRegistry({ host }).healthCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).broker).toBe('registry');
    expect((err as Error).message).toContain('HTTP 401');
    expect(seen.slice(0, 2)).toEqual(['Basic ' + Buffer.from('ada:s3cret').toString('base64'), 'Bearer t0ken']);
  });

  it('https with tls.ca is trusted; another CA is refused as not retryable', async () => {
    const server = createHttps({ key: readFileSync(pki.serverKeyFile), cert: readFileSync(pki.serverCertFile) }, answer);
    const host = `https://127.0.0.1:${await listen(server)}`;
    const trusted = createSchemaRegistry({ host, auth: { token: 't0ken' }, tls: { ca: pki.caPem } });
    expect(await trusted.getCompatibility('s')).toBe('FULL');
    const err = await createSchemaRegistry({ host, tls: { ca: pki.otherCaPem } }).healthCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).retryable).toBe(false);
    expect((err as Error).message).toContain('tls.ca');
  });

  it('nothing listening is a retryable UnavailableError', async () => {
    const err = await createSchemaRegistry({ host: 'http://127.0.0.1:1' }).healthCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
  });
});
