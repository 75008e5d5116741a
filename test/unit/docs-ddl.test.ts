import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { athenaCreateTableDdl, resultsTableDefinition } from '../../src/core/results-table.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';

describe('docs/analysts.md', () => {
  it('shows the DDL athenaCreateTableDdl writes for the results table, as it says', async () => {
    const doc = await readFile(join(PROJECT_ROOT, 'docs/analysts.md'), 'utf8');
    const shown = /```sql\n([\s\S]*?)```/.exec(doc)?.[1];
    const written = athenaCreateTableDdl(
      resultsTableDefinition({
        database: 'batch_pipeline_dev',
        table: 'predictions',
        resultsPrefix: 's3://bucket/results/',
      }),
    );
    expect(shown?.trim()).toBe(written.replace('s3://bucket/', 's3://<bucket>/').trim());
  });
});
