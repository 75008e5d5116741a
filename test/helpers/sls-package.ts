/**
 * Packages the service offline with osls (`sls package`, what `npm run package` runs) into a temporary
 * directory, and lints a packaged template with cfn-lint (pip's cfn-lint, on PATH like moto_server).
 *
 * Packaging writes the esbuild bundles to the repository's dist/ before zipping them, so packages made
 * by test files running in parallel are serialized with a lock directory; after the first package in
 * a process, SLS_REUSE_BUNDLES=1 zips the bundles already built.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const require = createRequire(import.meta.url);
const LOCK_DIR = join(tmpdir(), `sls-package-lock-${Buffer.from(PROJECT_ROOT).toString('hex').slice(-32)}`);

export interface PackagedService {
  /** The directory holding the function zips and the CloudFormation templates. */
  dir: string;
  templatePath: string;
  template: { Parameters?: Record<string, unknown>; Resources: Record<string, unknown> };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed test run is stale after 5 minutes.
      const age = Date.now() - (await stat(LOCK_DIR).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${LOCK_DIR}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}

let bundlesBuilt = false;

/** Runs `sls package --stage <stage>` with the given `--param` values; rejects with osls's output. */
export async function packageService(
  params: Record<string, string> = {},
  stage = 'test',
): Promise<PackagedService> {
  const dir = await mkdtemp(join(tmpdir(), 'sls-package-'));
  const result = await packageOnce(packageArgs(dir, stage, params));
  if (result.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`sls package failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  const templatePath = join(dir, 'cloudformation-template-update-stack.json');
  return { dir, templatePath, template: JSON.parse(await readFile(templatePath, 'utf8')) };
}

/**
 * Packages several parameter sets, one after the other (osls keeps state in the service's .serverless/,
 * so two packages of one service cannot run at once), reusing the bundles already built.
 */
export async function packageServices(
  paramSets: Record<string, string>[],
  stage = 'test',
): Promise<PackagedService[]> {
  const packaged: PackagedService[] = [];
  for (const params of paramSets) packaged.push(await packageService(params, stage));
  return packaged;
}

function packageArgs(dir: string, stage: string, params: Record<string, string>): string[] {
  return [
    require.resolve('osls/bin/serverless.js'),
    'package',
    '--stage',
    stage,
    '--package',
    dir,
    ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
  ];
}

async function runOsls(args: string[]): Promise<CommandResult> {
  // The test's own Node (22, pinned in node_modules) runs osls, whatever `node` is first on PATH.
  const result = await run(process.execPath, args, {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    CI: '1',
    ...(bundlesBuilt ? { SLS_REUSE_BUNDLES: '1' } : {}),
  });
  if (result.code === 0) bundlesBuilt = true;
  return result;
}

/** `sls package` with arbitrary arguments (for expected failures), serialized like packageService. */
export function packageOnce(args: string[]): Promise<CommandResult> {
  return withLock(() => runOsls(args));
}

export interface LintFinding {
  file: string;
  rule: string;
  level: 'Error' | 'Warning' | 'Informational';
  message: string;
  path: string;
}

/** cfn-lint over several templates in one process (its start-up is most of its time). */
export async function cfnLint(templatePaths: string[]): Promise<LintFinding[]> {
  let result: CommandResult;
  try {
    result = await run('cfn-lint', ['--format', 'json', '--', ...templatePaths]);
  } catch (error) {
    throw new Error('cfn-lint is not on PATH: install it with `pip install cfn-lint` (1.x)', {
      cause: error,
    });
  }
  // cfn-lint exits non-zero whenever it finds something; its JSON on stdout is the answer.
  if (!result.stdout.trim().startsWith('[')) {
    throw new Error(`cfn-lint failed (${result.code}): ${result.stderr || result.stdout}`);
  }
  const findings = JSON.parse(result.stdout) as {
    Filename: string;
    Level: LintFinding['level'];
    Message: string;
    Rule: { Id: string };
    Location: { Path: (string | number)[] | null };
  }[];
  return findings.map((f) => ({
    file: f.Filename,
    rule: f.Rule.Id,
    level: f.Level,
    message: f.Message,
    path: (f.Location.Path ?? []).join('/'),
  }));
}
