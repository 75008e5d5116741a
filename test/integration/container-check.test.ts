import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContainer } from '../../src/cli/container-check.js';

/** A port nothing listens on: bound, read, closed. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('checkContainer (--container, before a run starts)', () => {
  let notFound: Server;
  let silent: NetServer;
  let healthy: Server;
  const urlOf = (s: Server | NetServer) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

  beforeAll(async () => {
    notFound = createHttpServer((_req, res) => {
      res.statusCode = 404;
      res.end('Not Found');
    });
    healthy = createHttpServer((req, res) => {
      res.statusCode = req.url === '/ping' ? 200 : 404;
      res.end();
    });
    // Accepts connections and never answers.
    silent = createServer(() => undefined);
    await Promise.all(
      [notFound, healthy, silent].map(
        (s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve)),
      ),
    );
  });
  afterAll(() => {
    for (const s of [notFound, healthy, silent]) s.close();
  });

  it('fails within a few seconds on a refused connection, naming the URL, the cause and the fix', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await expect(checkContainer(url)).rejects.toThrow(
      new RegExp(`^Nothing is listening at ${url} \\(connection refused .*Start the container first`),
    );
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('says a 404 on /ping is not the SageMaker contract', async () => {
    await expect(checkContainer(urlOf(notFound))).rejects.toThrow(
      /answered GET http:\/\/127\.0\.0\.1:\d+\/ping with 404 Not Found: it does not speak the SageMaker container contract/,
    );
  });

  it("says a container that does not answer within SageMaker's 2 s timed out", async () => {
    const started = Date.now();
    await expect(checkContainer(urlOf(silent))).rejects.toThrow(/did not answer GET .*\/ping within 2 s/);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('says an unknown host cannot be found', async () => {
    await expect(checkContainer('http://no-such-host.invalid:8080')).rejects.toThrow(
      /The host in http:\/\/no-such-host\.invalid:8080 cannot be found/,
    );
  });

  it('passes a container answering /ping with 200', async () => {
    await expect(checkContainer(urlOf(healthy))).resolves.toBeUndefined();
  });

  it('speaks TLS to an https:// URL: the same healthy port, plain HTTP, is not reached', async () => {
    const url = urlOf(healthy).replace('http:', 'https:');
    // EPROTO: a TLS handshake was tried, and the plain HTTP server's answer is not one.
    await expect(checkContainer(url)).rejects.toThrow(`Cannot reach the container at ${url}: EPROTO.`);
  });
});
