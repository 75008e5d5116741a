import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface StartupOptions {
  /** The repository: where `npm start` runs. */
  root: string;
  /** A pipeline home, removed before each run (each run starts from nothing, as a first run does). */
  home: string;
  /** Runs each way. */
  runs: number;
  /** Told of each child, so the bench can stop it on Ctrl-C. */
  track: (child: ChildProcess) => void;
}

/**
 * Times the sample run as a user starts it, `npm start` (npm's own start included), alternating with
 * `node scripts/start.mjs` to show what npm itself adds; a fresh pipeline home each time. One unmeasured
 * run first makes the build, as a second `npm start` finds it.
 */
export async function measureStartup(
  options: StartupOptions,
): Promise<{ viaNpm: number[]; direct: number[] }> {
  const { root, home } = options;
  const once = async (command: string, args: string[]): Promise<number> => {
    await rm(home, { recursive: true, force: true });
    const started = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: root,
        stdio: 'ignore',
        env: { ...process.env, PIPELINE_HOME: home },
      });
      options.track(child);
      child.once('error', reject);
      child.once('close', resolve);
    });
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}`);
    return seconds;
  };
  const startScript = join(root, 'scripts/start.mjs');
  await once(process.execPath, [startScript]);
  const viaNpm: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    viaNpm.push(await once(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start', '--silent']));
    direct.push(await once(process.execPath, [startScript]));
  }
  await rm(home, { recursive: true, force: true });
  return { viaNpm, direct };
}
