import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchLines } from '../../src/core/batching.js';
import { HttpModelClient } from '../../src/local/http-model-client.js';

/** What the container received: the body's bytes and the Content-Length it was told. */
const received: { body: string; length: string | undefined; chunked: boolean }[] = [];
const server = createServer((request: IncomingMessage, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    received.push({
      body,
      length: request.headers['content-length'],
      chunked: request.headers['transfer-encoding'] === 'chunked',
    });
    response.writeHead(200, { 'content-type': 'text/csv' });
    response.end(`${body.split('\n').length} lines\n`);
  });
});
let client: HttpModelClient;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new HttpModelClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  client.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('HttpModelClient.invokeParts', () => {
  it('sends a body given in pieces as the one body they make, with its Content-Length', async () => {
    // batchLines gives pieces when a batch spans reads or skips blank lines: three reads here.
    const batches = [];
    for await (const batch of batchLines(
      [Buffer.from('1,2\n3,'), Buffer.from('4\n\n5,6\r\n'), Buffer.from('7,8')],
      {
        strategy: 'MultiRecord',
        maxPayloadBytes: 1 << 20,
        source: 'input.csv',
      },
    )) {
      batches.push(batch);
    }
    expect(batches).toHaveLength(1);
    const [batch] = batches;
    expect(batch?.parts?.length).toBeGreaterThan(1);
    received.length = 0;
    const options = { contentType: 'text/csv', accept: 'text/csv', timeoutMs: 5_000 };
    const answer = await client.invokeParts(batch?.parts ?? [], options);
    // The same body SplitType Line sends, written by hand: blank line dropped, CR kept off.
    expect(received).toEqual([{ body: '1,2\n3,4\n5,6\n7,8', length: '15', chunked: false }]);
    expect(Buffer.from(answer.body).toString()).toBe('4 lines\n');
    expect(batch?.body.toString()).toBe('1,2\n3,4\n5,6\n7,8');
  });
});
