/**
 * A data scientist's own files through `npm start -- run`, as made by pandas and XGBoost
 * (scripts/make_cli_fixtures.py): no flags for pandas' default CSV, scores equal to XGBoost's own
 * predict_proba, and the CLI's conventions (help, exit codes, query formats).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

/** XGBoost's predict_proba(X_test)[:, 1], by pandas index, as the fixture script wrote it. */
async function expectedProbabilities(): Promise<Map<string, number>> {
  const lines = (await readFile(join(FIXTURES, 'expected.csv'), 'utf8')).trim().split('\n').slice(1);
  return new Map(lines.map((line) => line.split(',') as [string, string]).map(([id, p]) => [id, Number(p)]));
}

interface Row {
  id: string | null;
  record: number;
  score: number;
  label: string | null;
}

describe('npm start -- run with files made by pandas and XGBoost', () => {
  let home: string;
  let expected: Map<string, number>;

  const rowsOf = (runId: string) =>
    queryJson<Row>(
      home,
      'SELECT id, record, score, label FROM predictions WHERE run_id = ? ORDER BY source, record',
      [runId],
    );

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-own-'));
    expected = await expectedProbabilities();
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("runs pandas' default to_csv output with no flags: header read, index as record id, XGBoost's scores", async () => {
    const result = await runCli(['run', join(FIXTURES, 'test.csv'), '--model', MODEL], home);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Run test: .*test\.csv \(1 file, text\/csv;/m);
    expect(result.stdout).toMatch(/header found: 31 columns \(index, mean radius, mean texture/);
    expect(result.stdout).toMatch(/record id: the unnamed first column \(pandas' index\)/);
    expect(result.stdout).toMatch(/labels: none given, so the class index is stored \(0, 1\)/);
    expect(result.stdout).toMatch(/records: 40 in, 40 out/);

    const rows = await rowsOf('test');
    expect(rows.map((r) => r.id)).toEqual([...expected.keys()]);
    for (const row of rows) {
      const probability = expected.get(String(row.id)) as number;
      expect(Math.abs(row.score - probability)).toBeLessThan(1e-6);
      // A binary model without labels stores the class index.
      expect(row.label).toBe(probability >= 0.5 ? '1' : '0');
    }
    // The user's file is untouched.
    expect((await readFile(join(FIXTURES, 'test.csv'), 'utf8')).startsWith(',mean radius,')).toBe(true);
  }, 180_000);

  it('says when a named query finds no rows because no run has that id', async () => {
    const typo = await runCli(['query', 'label-counts', '--param', 'tset'], home);
    expect(typo.code).toBe(0);
    expect(typo.stdout).toMatch(/\(0 rows\)/);
    expect(typo.stderr).toBe(`No run "tset" in ${home}: npm start -- runs lists the runs there.\n`);
    // The run of the test above is there: its rows, and no such note.
    const known = await runCli(['query', 'label-counts', '--param', 'test'], home);
    expect(known.code).toBe(0);
    expect(known.stdout).toMatch(/\(2 rows\)/);
    expect(known.stderr).toBe('');
  });

  it('reads test.csv.gz as gzip CSV by its name; --labels and --threshold set the labels', async () => {
    const result = await runCli(
      [
        'run',
        join(FIXTURES, 'test.csv.gz'),
        '--model',
        MODEL,
        '--labels',
        'malignant,benign',
        '--threshold',
        '0.7',
      ],
      home,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Run test: .*test\.csv\.gz \(1 file, text\/csv, gzip;/m);
    const rows = await rowsOf('test');
    expect(rows).toHaveLength(40);
    for (const row of rows) {
      const probability = expected.get(String(row.id)) as number;
      expect(Math.abs(row.score - probability)).toBeLessThan(1e-6);
      expect(row.label).toBe(probability >= 0.7 ? 'benign' : 'malignant');
    }
  }, 180_000);

  it('keeps a named --id-column out of the model and stores it as the id', async () => {
    const result = await runCli(
      [
        'run',
        join(FIXTURES, 'test-id.csv'),
        '--model',
        MODEL,
        '--id-column',
        'patient_id',
        '--run-id',
        'ids',
      ],
      home,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/record id: column "patient_id"/);
    expect(result.stdout).toMatch(/the model gets columns \$\[1:\]/);
    const rows = await rowsOf('ids');
    expect(rows.map((r) => r.id)).toEqual([...expected.keys()].map((i) => `p${i.padStart(4, '0')}`));
    for (const [i, row] of rows.entries()) {
      expect(Math.abs(row.score - ([...expected.values()][i] as number))).toBeLessThan(1e-6);
    }
  }, 180_000);

  it('takes the data files of a folder, says which it skipped, and reads a headerless file in place', async () => {
    const result = await runCli(['run', join(FIXTURES, 'folder'), '--model', MODEL], home);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\(2 files, text\/csv;/);
    expect(result.stdout).toMatch(/skipped 1 file\(s\): README\.txt \(not a data file name\)/);
    const rows = await rowsOf('folder');
    expect(rows.map((r) => r.id)).toEqual([...expected.keys()]);

    const plain = await runCli(['run', join(FIXTURES, 'test-noheader.csv'), '--model', MODEL], home);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/test-noheader\.csv \(1 file, text\/csv; read in place\)/);
    const plainRows = await rowsOf('test-noheader');
    // Without --store-features the table does not hold another copy of the input.
    const stored = await runCli(
      [
        'query',
        'SELECT count(*) AS n FROM predictions WHERE run_id = ? AND features IS NOT NULL',
        '--param',
        'test-noheader',
        '--format',
        'json',
      ],
      home,
    );
    expect(JSON.parse(stored.stdout)).toEqual([{ n: 0 }]);
    expect(plainRows.map((r) => r.id)).toEqual(new Array(40).fill(null));
    expect(plainRows.map((r) => r.score)).toEqual(rows.map((r) => r.score));
    // Nothing of the headerless input was copied into the store.
    const incoming = await readdir(join(home, 's3/local-pipeline/incoming'), { recursive: true }).catch(
      () => [],
    );
    expect(incoming.filter((f) => String(f).includes('noheader'))).toEqual([]);
  }, 240_000);

  it('names the content type of .jsonl from the name', async () => {
    const result = await runCli(
      ['run', join(FIXTURES, 'test.jsonl'), '--model', MODEL, '--run-id', 'jl'],
      home,
    );
    expect(result.stdout).toMatch(
      /^Run jl: .*test\.jsonl \(1 file, application\/jsonlines; read in place\)/m,
    );
  }, 180_000);

  it('prints the run id, the folder, failure.json and the user path when a run fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bad-'));
    try {
      const lines = (await readFile(join(FIXTURES, 'test-noheader.csv'), 'utf8')).split('\n');
      lines[2] = lines[2]?.replace(/^[^,]+/, 'abc') ?? '';
      await mkdir(dir, { recursive: true });
      const bad = join(dir, 'bad-rows.csv');
      await writeFile(bad, lines.join('\n'));
      const result = await runCli(['run', bad, '--model', MODEL], home);
      expect(result.code).toBe(1);
      const stderr = result.stderr;
      expect(stderr).toMatch(/^Run bad-rows FAILED after [\d.]+s in RunTransforms:$/m);
      expect(stderr).toContain(`${bad} line 3`);
      expect(stderr).not.toMatch(/s3:\/\/local-in-/);
      expect(stderr).toMatch(/^ {2}run folder: .*s3\/local-pipeline\/runs\/bad-rows\/$/m);
      expect(stderr).toMatch(/^ {2}failure: {4}.*runs\/bad-rows\/failure\.json$/m);
      expect(stderr).toMatch(/^ {2}detail: {5}States\.TaskFailed/m);
      // The message's first words are the user's, not the state machine's error name.
      expect(stderr.split('\n')[2]).not.toMatch(/^\s*States\./);
      const failure = JSON.parse(
        await readFile(join(home, 's3/local-pipeline/runs/bad-rows/failure.json'), 'utf8'),
      ) as { runId: string };
      expect(failure.runId).toBe('bad-rows');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it("names the line of the user's own file when a CSV with a header fails, the header counted", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bad-header-'));
    try {
      const lines = (await readFile(join(FIXTURES, 'test.csv'), 'utf8')).split('\n');
      // pandas' header is line 1; the bad value is on line 5 of the user's file (its 4th record).
      lines[4] = lines[4]?.replace(/^([^,]*),[^,]+/, '$1,oops') ?? '';
      const bad = join(dir, 'bad-header.csv');
      await writeFile(bad, lines.join('\n'));
      const result = await runCli(['run', bad, '--model', MODEL], home);
      expect(result.code).toBe(1);
      const userLine = (await readFile(bad, 'utf8')).split('\n').findIndex((l) => l.includes('oops')) + 1;
      expect(userLine).toBe(5);
      expect(result.stderr).toContain(`${bad} line 5 `);
      expect(result.stderr).toMatch(/of the request for lines 2-\d+ /);
      expect(result.stderr).toMatch(/^ {2}report: {5}.*runs\/bad-header\/report\.html$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the CLI as a command-line tool', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-conv-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('gives each command its own --help and prints --version', async () => {
    const run = await runCli(['run', '--help'], home);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm start -- run \[options\] \[path\]/);
    expect(run.stdout).toMatch(/--labels <names>/);
    const query = await runCli(['query', '--help'], home);
    expect(query.stdout).toMatch(/^Usage: npm start -- query \[options\] <sql-or-name\.\.\.>/);
    expect(query.stdout).toMatch(/--format <format>/);
    const serve = await runCli(['serve-model', '--help'], home);
    expect(serve.stdout).toMatch(/^Usage: npm start -- serve-model/);
    const { version } = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const v = await runCli(['--version'], home);
    expect(v).toMatchObject({ code: 0, stdout: `${version}\n` });
  }, 120_000);

  it('exits 2 on usage errors, each with its own message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['bogus'], /unknown command 'bogus'/],
      [['run', 'x.csv', '--labels', 'one'], /--labels <names>' argument 'one' is invalid/],
      [['run', 'x.csv', '--threshold', 'high'], /give a number from 0 to 1/],
      [['run', join(FIXTURES, 'nothing.csv'), '--model', MODEL], /No such file or folder: .*nothing\.csv/],
      [['run', join(FIXTURES, 'test.csv')], /Give a model: --model/],
      [
        ['run', join(FIXTURES, 'test.csv'), '--container', '127.0.0.1:8080'],
        /not a container URL.*http:\/\//,
      ],
      [
        ['run', join(FIXTURES, 'test.csv'), '--model', MODEL, '--id-column', 'nope'],
        /--id-column nope: no such column/,
      ],
      [['query', 'no-such-query'], /No query named "no-such-query" in queries\/ \(named queries: .*summary/],
      [['query', '--format', 'xml', 'summary'], /argument 'xml' is invalid/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, home);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
    }
  }, 300_000);

  it('refuses a symbolic link inside an input folder, naming it, instead of skipping its records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-link-'));
    try {
      await mkdir(join(dir, 'data'));
      await copyFile(join(FIXTURES, 'test-noheader.csv'), join(dir, 'data', 'a.csv'));
      await symlink(join(FIXTURES, 'test-noheader.csv'), join(dir, 'data', 'b.csv'));
      const result = await runCli(['run', join(dir, 'data'), '--model', MODEL], home);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/b\.csv in .*data is a symbolic link/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs a named query with --param and prints csv and json whole, the table cut', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-q-'));
    try {
      await copyFile(join(FIXTURES, 'test-noheader.csv'), join(dir, 'q.csv'));
      const run = await runCli(
        ['run', join(dir, 'q.csv'), '--model', MODEL, '--labels', 'malignant,benign', '--store-features'],
        home,
      );
      expect(run.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const named = await runCli(['query', 'label-counts', '--param', 'q', '--format', 'csv'], home);
    expect(named.code).toBe(0);
    const [header, ...lines] = named.stdout.trim().split('\n');
    expect(header?.split(',')).toContain('label');
    expect(lines.length).toBeGreaterThan(0);

    const sql = 'SELECT features FROM predictions WHERE run_id = ? ORDER BY record LIMIT 1';
    const json = await runCli(['query', sql, '--param', 'q', '--format', 'json'], home);
    const value = (JSON.parse(json.stdout) as Array<{ features: unknown }>)[0]?.features;
    const features = (typeof value === 'string' ? JSON.parse(value) : value) as number[];
    expect(features).toHaveLength(30);
    const table = await runCli(['query', sql, '--param', 'q'], home);
    const cell = table.stdout.split('\n')[2] ?? '';
    expect(cell.length).toBeLessThanOrEqual(40);
    expect(cell.endsWith('…')).toBe(true);
    const runs = await runCli(['runs', '--format', 'json'], home);
    expect(JSON.parse(runs.stdout)).toEqual([
      expect.objectContaining({ run_id: 'q', status: 'SUCCEEDED', records: 40 }),
    ]);
  }, 180_000);
});
