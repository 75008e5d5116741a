import { unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BUCKET, LocalPipeline, type StateEvent } from '../../src/local/local-pipeline.js';
import type { TransformProgressEvent } from '../../src/local/transform-engine.js';
import { type FaultyContainer, SAMPLE_INPUT_DIR, startFaultyContainer } from '../helpers/model-containers.js';
import { listFilesUnder, sampleLines } from '../helpers/records.js';

const RECORDS = 60;
const INPUT = `s3://${LOCAL_BUCKET}/incoming/data/records.csv`;

describe('input identity: an input that changes after the run was planned fails the run, naming it', () => {
  let work: string;
  let pipeline: LocalPipeline;
  let container: FaultyContainer;
  let lines: string[];
  let onState: ((event: StateEvent) => void) | undefined;
  let onProgress: ((event: TransformProgressEvent) => void) | undefined;
  const inputFile = () => join(work, 'home', 's3', LOCAL_BUCKET, 'incoming', 'data', 'records.csv');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'input-identity-'));
    lines = await sampleLines(SAMPLE_INPUT_DIR, RECORDS);
    pipeline = await LocalPipeline.open({
      home: join(work, 'home'),
      retryIntervalOverrides: { BuildManifest: 0, ParseResults: 0, RegisterTable: 0, RunQueries: 0 },
      onStateEvent: (event) => onState?.(event),
      onTransformProgress: (event) => onProgress?.(event),
    });
    container = await startFaultyContainer();
    await pipeline.models.put({ ModelName: 'good', PrimaryContainer: { Image: container.url } });
  });
  afterAll(async () => {
    await pipeline?.close();
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  const run = async (runId: string) => {
    await pipeline.store.put(INPUT, `${lines.join('\n')}\n`);
    return pipeline.run({
      runId,
      input: `s3://${LOCAL_BUCKET}/incoming/data/`,
      models: [{ variant: 'xgb', modelName: 'good' }],
      transform: { BatchStrategy: 'MultiRecord', MaxPayloadInMB: 1 },
      results: { table: 'predictions', labels: ['malignant', 'benign'] },
    });
  };

  /** What a user would find published for a run: rows, and result files on disk. */
  async function publishedOf(runId: string) {
    const { rows } = await pipeline.catalog
      .runQuery('SELECT count(*) AS n FROM predictions WHERE run_id = ?', [runId])
      .catch(() => ({ rows: [{ n: 0 }] }));
    const files = (await listFilesUnder(join(work, 'home', 's3', LOCAL_BUCKET, 'results'))).filter((f) =>
      f.includes(`/run_id=${runId}/`),
    );
    return { rows: Number((rows[0] as { n: unknown }).n), files };
  }

  /** The same records with the first feature of the first record changed (a new version of the file). */
  const overwrite = () => {
    const [first, ...rest] = lines;
    const fields = (first as string).split(',');
    fields[0] = `${fields[0]}1`;
    writeFileSync(inputFile(), `${[fields.join(','), ...rest].join('\n')}\n`);
  };

  it('an unchanged input runs through', async () => {
    onState = undefined;
    onProgress = undefined;
    const result = await run('unchanged');
    expect(result.status).toBe('SUCCEEDED');
    expect((await publishedOf('unchanged')).rows).toBe(RECORDS);
  }, 120_000);

  it('an input overwritten between planning and the transform fails the run naming it', async () => {
    onProgress = undefined;
    onState = (event) => {
      if (/build-?manifest/i.test(event.state) && event.phase === 'end') overwrite();
    };
    const invocationsBefore = container.invocations.length;
    const result = await run('before-transform');
    onState = undefined;
    expect(result.status).toBe('FAILED');
    expect(result.cause).toContain(INPUT);
    expect(result.cause).toContain('changed since the run was planned');
    // Caught by the transform, before anything was sent to the model.
    expect(container.invocations.length).toBe(invocationsBefore);
    expect(await publishedOf('before-transform')).toEqual({ rows: 0, files: [] });
  }, 120_000);

  it('an input overwritten after the transform, before ParseResults, fails the run and publishes nothing', async () => {
    onState = undefined;
    let completed = 0;
    onProgress = (event) => {
      if (event.type === 'job-ended' && event.status === 'Completed') {
        completed += 1;
        overwrite();
      }
    };
    const result = await run('before-parse');
    onProgress = undefined;
    expect(completed).toBe(1);
    expect(result.status).toBe('FAILED');
    expect(result.cause).toContain(INPUT);
    expect(result.cause).toContain('changed since the run was planned');
    expect(await publishedOf('before-parse')).toEqual({ rows: 0, files: [] });
  }, 120_000);

  it('an input deleted after the transform fails the run saying so', async () => {
    onProgress = (event) => {
      if (event.type === 'job-ended' && event.status === 'Completed') unlinkSync(inputFile());
    };
    const result = await run('deleted');
    onProgress = undefined;
    expect(result.status).toBe('FAILED');
    expect(result.cause).toContain(`Input ${INPUT} was deleted after the run was planned`);
    expect(await publishedOf('deleted')).toEqual({ rows: 0, files: [] });
  }, 120_000);
});
