/**
 * DuckDB's in-memory instance, which each local catalog opens with and attaches its file to
 * (duckdb-catalog.ts), created ahead of need: DuckDB takes 35–50 ms to create one (its built-in
 * extensions, ICU's time zones), on a thread of its own, which a command overlaps with loading the rest
 * of its code by asking for it first (src/cli/program.ts).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { duckDbSettings, settingStatements } from './duckdb-settings.js';

/** The instance being created ahead, and the settings it is created with. */
let ahead: { instance: Promise<DuckDBInstance>; settings: Record<string, string> } | undefined;
/** Whether a catalog has asked for an instance already: then one made ahead would never be used. */
let asked = false;

/** Starts creating the instance the next catalog opened in this process will use (once, before any). */
export function createInstanceAhead(): void {
  if (asked || ahead) return;
  // The settings of a catalog opened with no options, but the spill folder (the catalog file's).
  let settings: Record<string, string>;
  try {
    settings = duckDbSettings({});
  } catch {
    return; // a bad setting in the environment: the open says so
  }
  ahead = { instance: DuckDBInstance.create(':memory:', settings), settings };
  // A failure here is the open's to report: it then creates its own instance and fails there.
  ahead.instance.catch(() => undefined);
}

/**
 * An in-memory instance with `settings` (DuckDB's configuration options): the one created ahead, with
 * those it was not created with set now, when there is one; else a new one.
 */
export async function createInstance(settings: Record<string, string>): Promise<DuckDBInstance> {
  asked = true;
  const created = ahead;
  ahead = undefined;
  const instance = await created?.instance.catch(() => undefined);
  if (!created || !instance) return DuckDBInstance.create(':memory:', settings);
  const connection = await instance.connect();
  try {
    for (const statement of settingStatements(settings, created.settings)) await connection.run(statement);
  } finally {
    connection.closeSync();
  }
  return instance;
}
