import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { loadXGBoostModel, type XGBoostModel } from '../../src/model-server/xgboost-model.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import {
  type FaultyContainer,
  SAMPLE_INPUT_DIR,
  SAMPLE_MODEL,
  startFaultyContainer,
} from '../helpers/model-containers.js';
import { listFilesUnder, multisetDigest, recordLines, sampleLines } from '../helpers/records.js';
import { expectScores, samplePredictions } from '../helpers/xgboost-reference.js';

const RUN_ID = 'nightly';
const RECORDS = 40;

describe('a local run killed with SIGKILL mid-run, then run again', () => {
  let work: string;
  let home: string;
  let container: FaultyContainer;
  let model: XGBoostModel;
  let lines: string[];
  let args: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'runner-kill-'));
    home = join(work, 'home');
    model = await loadXGBoostModel(SAMPLE_MODEL);
    lines = await sampleLines(SAMPLE_INPUT_DIR, RECORDS);
    await writeFile(join(work, 'records.csv'), `${lines.join('\n')}\n`);
    container = await startFaultyContainer({ model });
    await writeFile(
      join(work, 'request.json'),
      JSON.stringify({
        runId: RUN_ID,
        transform: { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 1 },
        results: { table: 'predictions', labels: ['malignant', 'benign'] },
      }),
    );
    args = [
      'run',
      join(work, 'records.csv'),
      '--container',
      container.url,
      '--request',
      join(work, 'request.json'),
      '--store-features',
    ];
  });

  afterAll(async () => {
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** What the run left visible: transform outputs, result files, registered partitions and rows. */
  async function published() {
    const s3 = join(home, 's3', LOCAL_BUCKET);
    // Transform outputs live in each attempt's scratch: runs/<runId>/attempts/<attemptId>/transform/.
    const outFiles = (await listFilesUnder(join(s3, 'runs', RUN_ID))).filter((f) => f.endsWith('.out'));
    const resultFiles = (await listFilesUnder(join(s3, 'results'))).filter((f) =>
      f.includes(`run_id=${RUN_ID}/`),
    );
    const pipeline = await LocalPipeline.open({ home });
    try {
      const partitions = (await pipeline.catalog.listPartitions('local', 'predictions')).filter(
        (p) => p.values[1] === RUN_ID,
      );
      const { rows } = await pipeline.catalog.runQuery(
        'SELECT record, features, score FROM predictions WHERE run_id = ? ORDER BY record',
        [RUN_ID],
      );
      return { outFiles, resultFiles, partitions, rows };
    } finally {
      await pipeline.close();
    }
  }

  it('publishes nothing of the killed attempt, and the rerun publishes every record exactly once', async () => {
    // Another run first, so the results table exists and "no rows of the killed run" is a real query.
    const other = await runCli(
      [
        'run',
        join(work, 'records.csv'),
        '--container',
        container.url,
        '--run-id',
        'earlier',
        '--store-features',
      ],
      home,
    );
    expect(other.stderr).toBe('');
    expect(other.code).toBe(0);

    // One record per request, one at a time, 100 ms each: the run is still transforming when killed.
    container.setDelay(100);
    const killed = spawnCli(args, home);
    try {
      // Kill once the container has received the run's fifth request (some answered, the rest not).
      const fifth = container.invocations.length + 5;
      const ended = killed.done.then((r) => {
        throw new Error(`the run ended before it could be killed: ${r.stderr}`);
      });
      ended.catch(() => undefined); // it also "ends" when killed below, after the race is over
      for (let n = 0; n < 5 && container.invocations.length < fifth; n += 1) {
        await Promise.race([once(container, 'invocation'), ended]);
      }
      expect(container.invocations.length).toBe(fifth);
    } finally {
      const result = await killed.kill();
      expect(result.signal).toBe('SIGKILL');
    }

    const afterKill = await published();
    expect(afterKill.outFiles).toEqual([]);
    expect(afterKill.resultFiles).toEqual([]);
    expect(afterKill.partitions).toEqual([]);
    expect(afterKill.rows).toEqual([]);

    container.setDelay(0);
    const rerun = await runCli(args, home);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`records: ${RECORDS} in, ${RECORDS} out`));

    const after = await published();
    expect(after.partitions).toHaveLength(1);
    expect(after.rows).toHaveLength(RECORDS);
    expect(after.rows.map((r) => Number(r.record))).toEqual(lines.map((_, i) => i + 1));
    const asNumbers = (values: readonly number[]) => JSON.stringify(values.map(Number));
    expect(multisetDigest(after.rows.map((r) => asNumbers(JSON.parse(String(r.features)) as number[])))).toBe(
      multisetDigest(lines.map((line) => asNumbers(line.split(',').map(Number)))),
    );
    // XGBoost's own predictions (examples/sample/expected-predictions.csv), not the product's predictor.
    const expected = await samplePredictions(RECORDS);
    expectScores(
      after.rows.map((r) => Number(r.score)),
      expected,
    );
    const [outFile] = after.outFiles;
    expect(after.outFiles).toHaveLength(1);
    const out = await readFile(join(home, 's3', LOCAL_BUCKET, 'runs', RUN_ID, outFile as string), 'utf8');
    expectScores(recordLines(out).map(Number), expected);
    // The killed attempt left nothing behind once the rerun published: one attempt, its own files only.
    const attempt = /^attempts\/([0-9a-f]{12})\//.exec(outFile as string)?.[1];
    expect(attempt).toBeDefined();
    expect(after.resultFiles.every((f) => f.includes(`/attempt=${attempt}/`))).toBe(true);
    const scratch = await listFilesUnder(join(home, 's3', LOCAL_BUCKET, 'runs', RUN_ID, 'attempts'));
    expect(scratch.every((f) => f.startsWith(`${attempt}/`))).toBe(true);
  }, 180_000);
});
