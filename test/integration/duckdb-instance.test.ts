import { describe, expect, it } from 'vitest';
import { createInstance, createInstanceAhead } from '../../src/local/duckdb-instance.js';

async function setting(instance: Awaited<ReturnType<typeof createInstance>>, name: string) {
  const connection = await instance.connect();
  try {
    return String((await connection.runAndReadAll(`SELECT current_setting('${name}')`)).getRows()[0]?.[0]);
  } finally {
    connection.closeSync();
  }
}

describe('the DuckDB instance a catalog opens with', () => {
  it('is the one created ahead, with the settings asked for then, and only one is ever made ahead', async () => {
    createInstanceAhead();
    const first = await createInstance({ threads: '3', memory_limit: '100MB', temp_directory: '/tmp/x.tmp' });
    try {
      expect(await setting(first, 'threads')).toBe('3');
      expect(await setting(first, 'memory_limit')).toMatch(/^9[0-9.]+ MiB$|^100/);
      expect(await setting(first, 'temp_directory')).toBe('/tmp/x.tmp');
      // Once a catalog has asked, nothing is created ahead again: the next one is made when asked.
      createInstanceAhead();
      const second = await createInstance({ threads: '1' });
      expect(second).not.toBe(first);
      expect(await setting(second, 'threads')).toBe('1');
      second.closeSync();
    } finally {
      first.closeSync();
    }
  });
});
