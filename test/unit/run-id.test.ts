import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { RUN_FLAGS } from '../../src/cli/run-options.js';
import { removeRun } from '../../src/cli/runs-command.js';
import { checkRunRequest } from '../../src/core/run-checks.js';
import { applyRunDefaults } from '../../src/core/run-defaults.js';
import { isRunId, RUN_ID_PATTERN } from '../../src/core/run-id.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { containerSettingsFromEnv } from '../../src/model-server/server.js';

// Written by hand from the README's rule: 1-32 lowercase letters, digits and -, not starting with -.
const VALID = ['a', '7', 'run-2024-06-01', '0-', 'a'.repeat(32)];
const INVALID = ['', '-a', 'Run', 'a_b', 'a.b', 'a/b', '../x', 'a b', 'a'.repeat(33), 'é'];

const SCHEMAS = join(import.meta.dirname, '../../schemas');

/** Every `pattern` stated for a property named runId or baselineRunId, in every schema file. */
function runIdPatterns(): Array<{ file: string; pattern: string }> {
  const found: Array<{ file: string; pattern: string }> = [];
  const walk = (file: string, node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (/^(runId|baselineRunId)$/.test(key) && typeof value === 'object' && value && 'pattern' in value)
        found.push({ file, pattern: String(value.pattern) });
      walk(file, value);
    }
  };
  for (const file of readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json')))
    walk(file, JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')));
  return found;
}

describe('the run-id rule has one home (schemas/run-request.schema.json runId.pattern)', () => {
  it('accepts exactly the ids the README allows', () => {
    for (const id of VALID) expect(isRunId(id), id).toBe(true);
    for (const id of INVALID) expect(isRunId(id), id).toBe(false);
    expect(isRunId(undefined)).toBe(false);
  });

  it('is the pattern every schema states for a run id', () => {
    const patterns = runIdPatterns();
    expect(patterns.map((p) => p.file)).toEqual(
      expect.arrayContaining([
        'run-request.schema.json',
        'run-plan.schema.json',
        'failure-record.schema.json',
      ]),
    );
    for (const { file, pattern } of patterns) expect(pattern, file).toBe(RUN_ID_PATTERN.source);
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
