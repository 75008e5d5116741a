import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { spawnCli } from '../helpers/cli.js';

const MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');

/** The pids of a process's children (Linux). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start -- serve-model', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`stops on one ${signal}, its worker processes included, and says so`, async () => {
      const server = spawnCli(['serve-model', '--model', MODEL, '--port', '0'], tmpdir());
      try {
        let stdout = '';
        await new Promise<void>((resolve, reject) => {
          server.child.stdout?.on('data', (data: Buffer) => {
            stdout += data.toString();
            if (/listening on http/.test(stdout)) resolve();
          });
          server.done.then((r) => reject(new Error(`serve-model ended before listening: ${r.stderr}`)));
        });
        const match = /listening on (http:\/\/[\d.:]+)/.exec(stdout);
        expect((await fetch(`${match?.[1]}/ping`)).status).toBe(200);
        const workers = await childrenOf(server.child.pid as number);
        expect(workers.length).toBeGreaterThan(0);

        const sent = Date.now();
        server.child.kill(signal);
        const result = await server.done;
        expect(Date.now() - sent).toBeLessThan(10_000);
        expect(result.code).toBe(0);
        expect(result.stderr).toMatch(
          new RegExp(`Model server stopped \\(${signal}\\), with its \\d+ worker processes`),
        );
        for (const pid of workers) expect(alive(pid)).toBe(false);
      } finally {
        await server.kill();
      }
    }, 120_000);
  }
});
