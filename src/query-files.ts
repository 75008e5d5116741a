import { readFile } from 'node:fs/promises';
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
