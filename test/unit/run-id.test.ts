import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { RUN_FLAGS } from '../../src/cli/run-options.js';
import { removeRun } from '../../src/cli/runs-command.js';
import { checkRunRequest } from '../../src/core/run-checks.js';
import { applyRunDefaults } from '../../src/core/run-defaults.js';
import { isRunId } from '../../src/core/run-id.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { containerSettingsFromEnv } from '../../src/model-server/server.js';
import { validateAgainstSchema } from '../../src/schemas.js';
import { definitionRef, propertiesNamed } from '../helpers/schema-walk.js';

// Written by hand from the README's rule: 1-32 lowercase letters, digits and -, not starting with -.
const VALID = ['a', '7', 'run-2024-06-01', '0-', 'a'.repeat(32)];
const INVALID = ['', '-a', 'Run', 'a_b', 'a.b', 'a/b', '../x', 'a b', 'a'.repeat(33), 'é'];

describe('the run-id rule has one home (schemas/definitions.schema.json#/definitions/runId)', () => {
  it('accepts exactly the ids the README allows', () => {
    for (const id of VALID) expect(isRunId(id), id).toBe(true);
    for (const id of INVALID) expect(isRunId(id), id).toBe(false);
    expect(isRunId(undefined)).toBe(false);
  });

  it('is what every schema refers to for a run id (none states a pattern of its own)', () => {
    const found = propertiesNamed(['runId', 'baselineRunId']);
    expect(new Set(found.map((p) => p.file))).toEqual(
      new Set([
        'run-request.schema.json',
        'run-plan.schema.json',
        'failure-record.schema.json',
        'register-table-event.schema.json',
        'run-queries-event.schema.json',
        'parse-results-event.schema.json',
        'start-run-result.schema.json',
        // Any JSON value: the state at the Catch may be a raw request; only a valid run id is used.
        'record-failure-event.schema.json',
        // Free text in the summary: it is the plan's, checked there.
        'run-summary.schema.json',
      ]),
    );
    for (const { file, path, schema } of found) {
      if (file === 'run-summary.schema.json' || file === 'record-failure-event.schema.json') continue;
      expect(schema, `${file} ${path}`).toEqual({ ...schema, $ref: definitionRef('runId') });
      expect(schema, `${file} ${path}`).not.toHaveProperty('pattern');
    }
  });

  it('is enforced through the $ref by ajv (the run request and a Lambda event)', () => {
    const request = { input: 's3://bucket/in/', models: [{ variant: 'a', modelName: 'm' }] };
    for (const runId of INVALID.filter((id) => id !== '')) {
      expect(() => validateAgainstSchema('run-request', { ...request, runId }, 'run request'), runId).toThrow(
        '/runId must match pattern "^[a-z0-9][a-z0-9-]{0,31}$"',
      );
      expect(() =>
        validateAgainstSchema(
          'run-request',
          { ...request, results: { baselineRunId: runId } },
          'run request',
        ),
      ).toThrow('/results/baselineRunId must match pattern');
    }
    const event = {
      table: { database: 'db', table: 't', resultsPrefix: 's3://b/results/' },
      runId: 'r1',
      runDate: '2026-01-01',
      runPrefix: 's3://b/runs/r1/',
      attemptId: '0123456789ab',
      jobList: {
        bucket: 'bucket',
        key: 'runs/r1/attempts/0123456789ab/jobs.json',
        jobs: 1,
        maxConcurrency: 1,
        resultsPrefix: 's3://bucket/runs/r1/attempts/0123456789ab/job-results/',
        mapRunsKeyPrefix: 'runs/r1/attempts/0123456789ab/map-runs/',
      },
    };
    expect(validateAgainstSchema('register-table-event', event, 'event')).toBe(event);
    expect(() => validateAgainstSchema('register-table-event', { ...event, runId: '../x' }, 'event')).toThrow(
      '/runId must match pattern',
    );
  });

  it('is what the CLI flags --run-id and --baseline accept', () => {
    for (const name of ['--run-id', '--baseline']) {
      const flag = RUN_FLAGS.find((f) => f.flags.startsWith(`${name} `));
      expect(flag?.parse, name).toBeDefined();
      for (const id of VALID) expect(flag?.parse?.(id, undefined), `${name} ${id}`).toBe(id);
      for (const id of INVALID)
        expect(() => flag?.parse?.(id, undefined), `${name} ${id}`).toThrow(InvalidArgumentError);
    }
  });

  it('is what `runs rm` accepts (checked before anything is opened or deleted)', async () => {
    for (const id of ['../x', 'a'.repeat(33), 'Run'])
      await expect(removeRun('/nonexistent-home', id)).rejects.toThrow(`Not a run id: "${id}"`);
  });
});

describe("the XGBoost container's 6 MiB MAX_CONTENT_LENGTH has one home (core/xgboost-container.ts)", () => {
  const request = (MaxPayloadInMB: number) =>
    applyRunDefaults({
      input: 's3://bucket/in/',
      models: [{ variant: 'xgb', image: 'builtin:xgboost', modelDataUrl: 's3://bucket/model.tar.gz' }],
      transform: { MaxPayloadInMB },
    } as RunRequest);

  it('is the local container stand-in default: 6 * 1024 * 1024 bytes', () => {
    expect(containerSettingsFromEnv({}).maxContentLength).toBe(6_291_456);
  });

  it('is the bound of the plan-time warning: 6 MB passes, 7 MB is warned about', () => {
    expect(checkRunRequest(request(6)).warnings).toEqual([]);
    expect(checkRunRequest(request(7)).warnings).toEqual([
      expect.stringMatching(
        /MaxPayloadInMB 7: .* refuses requests over 6 MiB \(MAX_CONTENT_LENGTH\) with 413/,
      ),
    ]);
  });
});
