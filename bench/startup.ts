import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';

/** GNU time: its `%U %S` are the CPU seconds of the command and every descendant it waited for. */
const GNU_TIME = '/usr/bin/time';

/** One start: wall seconds; CPU seconds (user + system) of its process tree, when GNU time is there. */
export interface StartupRun {
  seconds: number;
  cpuSeconds?: number;
  /** The one-minute load average as the run began: on 2 shared cores, walls above a load of ~1.5 are not comparable. */
  load: number;
}

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
 * run first makes the build, as a second `npm start` finds it. Each run's CPU time (the whole process
 * tree: npm, the CLI, the model server) and the load as it began are kept beside its wall time.
 */
export async function measureStartup(
  options: StartupOptions,
): Promise<{ viaNpm: StartupRun[]; direct: StartupRun[] }> {
  const { root, home } = options;
  const timeFile = `${home}.time`;
  const timed = existsSync(GNU_TIME);
  const once = async (program: string, programArgs: string[]): Promise<StartupRun> => {
    await rm(home, { recursive: true, force: true });
    const [command, args] = timed
      ? [GNU_TIME, ['-f', '%U %S', '-o', timeFile, program, ...programArgs]]
      : [program, programArgs];
    const load = loadavg()[0] as number;
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
    if (code !== 0) throw new Error(`${program} ${programArgs.join(' ')} exited ${code}`);
    if (!timed) return { seconds, load };
    const [user, system] = (await readFile(timeFile, 'utf8')).trim().split(/\s+/).map(Number);
    return { seconds, cpuSeconds: (user as number) + (system as number), load };
  };
  const startScript = join(root, 'scripts/start.mjs');
  await once(process.execPath, [startScript]);
  const viaNpm: StartupRun[] = [];
  const direct: StartupRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    viaNpm.push(await once(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start', '--silent']));
    direct.push(await once(process.execPath, [startScript]));
  }
  await rm(home, { recursive: true, force: true });
  await rm(timeFile, { force: true });
  return { viaNpm, direct };
}
