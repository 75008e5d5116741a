/** Runs the CLI as a user does: `node --import tsx src/cli.ts <args> --home <home>`, a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/local/paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves when the process has exited, with everything it printed. */
  done: Promise<CliResult>;
  /** SIGKILLs the process (if still running) and waits for it to exit. */
  kill(): Promise<CliResult>;
}

/** Starts the CLI (with `env` added to this process's); the caller must await `done` or call `kill()`. */
export function spawnCli(args: string[], home: string, env: Record<string, string> = {}): CliProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli.ts'), ...args, '--home', home],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const done = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
  return {
    child,
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return done;
    },
  };
}

/** Runs the CLI to its end. */
export function runCli(args: string[], home: string, env: Record<string, string> = {}): Promise<CliResult> {
  return spawnCli(args, home, env).done;
}

/**
 * Runs `npm start -- query <sql> --param …  --format json` against `home` and resolves with the rows;
 * rejects with the CLI's stderr when the query fails.
 */
export async function queryJson<Row = Record<string, unknown>>(
  home: string,
  sql: string,
  params: readonly string[] = [],
): Promise<Row[]> {
  const { stdout, code, stderr } = await runCli(
    ['query', sql, ...params.flatMap((p) => ['--param', p]), '--format', 'json'],
    home,
  );
  if (code !== 0) throw new Error(`query failed: ${stderr}`);
  return JSON.parse(stdout) as Row[];
}
