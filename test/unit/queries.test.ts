import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bindParameters,
  countPlaceholders,
  loadNamedQuery,
  NAMED_QUERIES,
  renderQuery,
  validateQueryRequest,
} from '../../src/core/queries.js';
import { type QueryProgressEvent, runNamedQueries } from '../../src/core/run-queries.js';
import { InvalidInputError, QueryFailedError, TransientError } from '../../src/errors.js';
import type { QueryEngine, QueryValue } from '../../src/ports.js';

const QUERIES_DIR = join(import.meta.dirname, '../../queries');

const SIMPLE = `-- Records per variant.
-- parameters: run_id
SELECT variant, count(*) AS records FROM {{table}} WHERE run_id = ? GROUP BY variant
`;

describe('loadNamedQuery', () => {
  it('reads the description and the declared parameters from the header comments', () => {
    const query = loadNamedQuery('simple', SIMPLE);

    expect(query).toEqual({
      name: 'simple',
      description: 'Records per variant.',
      parameters: ['run_id'],
      sql: SIMPLE,
    });
  });

  it('rejects a query whose ? placeholders do not match its declared parameters', () => {
    const sql = '-- x\n-- parameters: run_id\nSELECT * FROM {{table}} WHERE run_id = ? AND variant = ?';

    expect(() => loadNamedQuery('bad', sql)).toThrow(
      new QueryFailedError(
        'Query bad has 2 ? placeholder(s) but declares 1 parameter(s) (run_id) in its "-- parameters:" line',
      ),
    );
  });

  it('rejects a query that does not use {{table}} or uses another placeholder', () => {
    expect(() => loadNamedQuery('q', '-- x\nSELECT 1')).toThrow(
      'does not name the results table as {{table}}',
    );
    expect(() => loadNamedQuery('q', '-- x\nSELECT * FROM {{table}} JOIN {{other}}')).toThrow(
      'unknown placeholder {{other}}',
    );
  });

  it('loads every shipped query, and the shipped list matches the files in queries/', async () => {
    const files = (await readdir(QUERIES_DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4));

    expect([...files].sort()).toEqual([...NAMED_QUERIES].sort());
    for (const name of NAMED_QUERIES) {
      const query = loadNamedQuery(name, await readFile(join(QUERIES_DIR, `${name}.sql`), 'utf8'));
      // RunQueries supplies these for every run: a shipped query may take nothing else.
      expect(query.parameters.filter((p) => !['run_id', 'baseline_run_id'].includes(p))).toEqual([]);
      expect(query.parameters).toContain('run_id');
      expect(query.description).not.toBe('');
    }
  });
});

describe('countPlaceholders', () => {
  it('ignores question marks in strings, quoted identifiers and comments', () => {
    const sql = `SELECT '?', 'it''s ?', "a?b" -- why?
      /* what? */ FROM t WHERE a = ? AND b = ?`;

    expect(countPlaceholders(sql)).toBe(2);
  });
});

describe('renderQuery', () => {
  it('substitutes every {{table}}', () => {
    expect(renderQuery('SELECT * FROM {{table}} a JOIN {{table}} b ON a.x = b.x', 'predictions')).toBe(
      'SELECT * FROM predictions a JOIN predictions b ON a.x = b.x',
    );
  });

  it('refuses a table name that could carry SQL', () => {
    expect(() => renderQuery('SELECT * FROM {{table}}', 'predictions; DROP TABLE x')).toThrow(
      InvalidInputError,
    );
  });
});

describe('validateQueryRequest', () => {
  it('rejects an unknown query name, listing the known ones', () => {
    expect(() => validateQueryRequest({ name: 'drop-everything' })).toThrow(
      new QueryFailedError(
        'Unknown query "drop-everything": known queries are summary, label-counts, score-histogram, variant-comparison, evaluation, drift, feature-statistics, variant-agreement, variant-disagreements',
      ),
    );
  });

  it('accepts scalar parameters, injection attempts included, as plain values', () => {
    const request = validateQueryRequest({
      name: 'summary',
      parameters: { run_id: "x'; DROP TABLE predictions; --" },
    });

    expect(request).toEqual({ name: 'summary', parameters: { run_id: "x'; DROP TABLE predictions; --" } });
  });

  it('rejects parameters that are not scalars', () => {
    expect(() => validateQueryRequest({ name: 'summary', parameters: { run_id: ['a'] } })).toThrow(
      'parameter run_id must be a string, number, boolean or null',
    );
  });
});

describe('bindParameters', () => {
  it('orders values as the placeholders expect and rejects missing or unknown ones', () => {
    const query = loadNamedQuery('q', '-- x\n-- parameters: a, b\nSELECT ?, ? FROM {{table}}');

    expect(bindParameters(query, { b: 2, a: 'one' })).toEqual(['one', 2]);
    expect(() => bindParameters(query, { a: 1 })).toThrow('Query q needs a value for parameter b');
    expect(() => bindParameters(query, { a: 1, b: 2, c: 3 })).toThrow('Query q has no parameter c');
  });
});

/** Records the SQL and parameters it is given and answers with one row. */
class RecordingEngine implements QueryEngine {
  readonly calls: { sql: string; parameters: QueryValue[] | undefined }[] = [];
  async runQuery(sql: string, parameters?: QueryValue[]) {
    this.calls.push({ sql, parameters });
    return { columns: ['n'], rows: [{ n: this.calls.length }] };
  }
}

describe('runNamedQueries', () => {
  it('runs each query over the table with the run id bound as a parameter', async () => {
    const engine = new RecordingEngine();

    const results = await runNamedQueries(
      { runId: "r'1", table: 'predictions', queries: ['summary', 'label-counts'] },
      { queryEngine: engine, loadQuery: async () => SIMPLE },
    );

    expect(Object.keys(results)).toEqual(['summary', 'label-counts']);
    expect(engine.calls).toHaveLength(2);
    for (const call of engine.calls) {
      expect(call.sql).toContain('FROM predictions WHERE run_id = ?');
      expect(call.parameters).toEqual(["r'1"]);
    }
  });

  it('rejects an unknown query before running any', async () => {
    const engine = new RecordingEngine();

    await expect(
      runNamedQueries(
        { runId: 'r1', table: 'predictions', queries: ['summary', 'nope'] },
        { queryEngine: engine, loadQuery: async () => SIMPLE },
      ),
    ).rejects.toThrow('Unknown query "nope": known queries are');
    expect(engine.calls).toEqual([]);
  });

  it('names the query when the engine fails', async () => {
    const engine: QueryEngine = {
      runQuery: async () => {
        throw new Error('Table predictions does not exist');
      },
    };

    await expect(
      runNamedQueries(
        { runId: 'r1', table: 'predictions', queries: ['summary'] },
        { queryEngine: engine, loadQuery: async () => SIMPLE },
      ),
    ).rejects.toThrow(new QueryFailedError('Query summary failed: Table predictions does not exist'));
  });

  it('tells progress as each query starts and ends, one at a time with concurrency 1', async () => {
    const events: string[] = [];
    let running = 0;
    let most = 0;
    const engine: QueryEngine = {
      runQuery: async (sql) => {
        running += 1;
        most = Math.max(most, running);
        events.push('engine');
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        if (sql.includes('FAIL')) throw new Error('boom');
        return { columns: ['n'], rows: [{ n: 1 }, { n: 2 }] };
      },
    };
    const onProgress = (event: QueryProgressEvent) =>
      events.push(`${event.type} ${event.name}${'rows' in event ? ` ${event.rows}` : ''}`);

    await runNamedQueries(
      { runId: 'r1', table: 'predictions', queries: ['summary', 'label-counts'] },
      { queryEngine: engine, loadQuery: async () => SIMPLE, concurrency: 1, onProgress },
    );

    expect(most).toBe(1);
    expect(events).toEqual([
      'query-started summary',
      'engine',
      'query-finished summary 2',
      'query-started label-counts',
      'engine',
      'query-finished label-counts 2',
    ]);

    events.length = 0;
    await expect(
      runNamedQueries(
        { runId: 'r1', table: 'predictions', queries: ['summary'] },
        { queryEngine: engine, loadQuery: async () => `${SIMPLE}-- FAIL\n`, onProgress },
      ),
    ).rejects.toThrow('Query summary failed: boom');
    expect(events).toEqual(['query-started summary', 'engine', 'query-failed summary']);
  });

  it('keeps a transient engine failure transient, so the state machine retries the step', async () => {
    const engine: QueryEngine = {
      runQuery: async () => {
        throw new TransientError(
          'Athena StartQueryExecution failed (TooManyRequestsException): Rate exceeded',
        );
      },
    };

    const failure = runNamedQueries(
      { runId: 'r1', table: 'predictions', queries: ['summary'] },
      { queryEngine: engine, loadQuery: async () => SIMPLE },
    );

    // The ASL retries by error name: the name Step Functions sees must be TransientError.
    await expect(failure).rejects.toMatchObject({
      name: 'TransientError',
      message:
        'Query summary failed: Athena StartQueryExecution failed (TooManyRequestsException): Rate exceeded',
    });
  });
});
