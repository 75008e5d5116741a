/**
 * `npm start -- run … --container URL` as a user meets its mistakes: nothing listening, a server that is
 * not a SageMaker container (404 on /ping), one that never answers, an unknown host, a URL without
 * http://. Each is a usage error (exit 2) with its own message naming the URL, found before anything
 * runs, within seconds (the container check waited 60 s before).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { type CliResult, runCli } from '../helpers/cli.js';

const CSV = join(PROJECT_ROOT, 'test/fixtures/cli/test.csv');

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

describe('npm start -- run --container with no container there', () => {
  let home: string;
  let notFound: Server;
  let silent: Server;
  let closedPort: number;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-container-'));
    notFound = await listen((_, res) => {
      res.statusCode = 404;
      res.end('not found');
    });
    silent = await listen(() => {
      // Never answers.
    });
    const closed = await listen(() => {});
    closedPort = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
  });
  afterAll(async () => {
    notFound.closeAllConnections();
    silent.closeAllConnections();
    notFound.close();
    silent.close();
    await rm(home, { recursive: true, force: true });
  });

  const timed = async (url: string): Promise<CliResult & { ms: number }> => {
    const started = Date.now();
    const result = await runCli(['run', CSV, '--container', url, '--run-id', 'c'], home);
    return { ...result, ms: Date.now() - started };
  };

  it('names each cause with its fix, exit code 2, within seconds, and runs nothing', async () => {
    const refused = await timed(`http://127.0.0.1:${closedPort}`);
    const missing = await timed(urlOf(notFound));
    const hung = await timed(urlOf(silent));
    const unknownHost = await timed('http://no-such-host.invalid:8080');
    const noScheme = await runCli(['run', CSV, '--container', '127.0.0.1:8080'], home);

    for (const result of [refused, missing, hung, unknownHost, noScheme]) {
      expect(result.code).toBe(2);
      expect(result.stdout).not.toMatch(/transform job|FAILED/);
    }
    expect(refused.stderr).toContain(
      `Nothing is listening at http://127.0.0.1:${closedPort} (connection refused by 127.0.0.1:${closedPort}). Start the container first`,
    );
    expect(missing.stderr).toContain(
      `The container at ${urlOf(notFound)} answered GET ${urlOf(notFound)}/ping with 404 Not Found: it does not speak the SageMaker container contract`,
    );
    expect(hung.stderr).toContain(
      `The container at ${urlOf(silent)} did not answer GET ${urlOf(silent)}/ping within 2 s`,
    );
    expect(unknownHost.stderr).toContain(
      'The host in http://no-such-host.invalid:8080 cannot be found (ENOTFOUND)',
    );
    expect(noScheme.stderr).toContain('--container 127.0.0.1:8080: not a container URL');
    // The 404 is answered at once; a refused connection is retried for about 3 s, a silent server
    // waited on for 2 s: the same start-up cost apart, each is seconds, not the minute it was.
    expect(refused.ms - missing.ms).toBeLessThan(8000);
    expect(hung.ms - missing.ms).toBeLessThan(8000);

    // Nothing ran: no run is kept.
    const runs = await runCli(['runs', '--format', 'json'], home);
    expect(JSON.parse(runs.stdout)).toEqual([]);
  }, 180_000);
});
