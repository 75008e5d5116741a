import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QueryFailedError } from './errors.js';

const QUERY_NAME = /^[a-z0-9-]+$/;

/**
 * Reads named queries from a folder of `<name>.sql` files (queries/ in the repo; on Lambda, the same
 * folder packaged with the function). Names are checked before they touch the filesystem.
 */
export function createQueryLoader(directory: string): (name: string) => Promise<string> {
  return async (name: string) => {
    if (!QUERY_NAME.test(name)) throw new QueryFailedError(`Invalid query name "${name}"`);
    try {
      return await readFile(join(directory, `${name}.sql`), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new QueryFailedError(`Unknown query "${name}": no ${name}.sql in ${directory}`, {
          cause: error,
        });
      }
      throw error;
    }
  };
}

/** The names of the named queries in a folder of `<name>.sql` files, sorted. */
export async function listQueryNames(directory: string): Promise<string[]> {
  const names = await readdir(directory);
  return names
    .filter((name) => name.endsWith('.sql'))
    .map((name) => name.slice(0, -'.sql'.length))
    .filter((name) => QUERY_NAME.test(name))
    .sort();
}
