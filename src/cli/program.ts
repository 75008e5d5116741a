/**
 * The command line: commands, their flags and help, on commander. Each command's work lives in its own
 * module (run-command, query-command, runs-command); this file only declares and dispatches.
 *
 * Exit codes: 0 success, 1 the run or query failed, 2 a usage error (unknown command or flag, bad flag
 * value, missing file). docs/cli.md lists them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { PROJECT_ROOT } from '../local/paths.js';
import type { QueryFormat } from './output.js';
import { addRunFlags, RUN_FLAGS } from './run-options.js';
import { dropOutputWhenReaderCloses, withInterruptNotice } from './stdio.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

// Command modules load the pipeline (DuckDB, the state machine runner): imported when a command runs,
// so --help and --version answer at once.
// A run and a query open the local catalog: DuckDB's library is loaded and its instance started first,
// so the instance is created (on a thread of DuckDB's) while the command's own code loads and checks
// the user's files (src/local/duckdb-instance.ts). Loaded side by side with the command's modules, the library waited
// for them: the instance started 50 ms later and the open waited for it.
const runCommand: typeof import('./run-command.js').runCommand = async (options) => {
  await createCatalogInstanceAhead();
  return (await import('./run-command.js')).runCommand(options);
};
const queryCommand: typeof import('./query-command.js').queryCommand = async (options) => {
  await createCatalogInstanceAhead();
  return (await import('./query-command.js')).queryCommand(options);
};
const createCatalogInstanceAhead = async () =>
  (await import('../local/duckdb-instance.js')).createInstanceAhead();
const runsListCommand: typeof import('./runs-command.js').runsListCommand = async (home, format) =>
  (await import('./runs-command.js')).runsListCommand(home, format);

const runsRemoveCommand: typeof import('./runs-command.js').runsRemoveCommand = async (home, runId) =>
  (await import('./runs-command.js')).runsRemoveCommand(home, runId);

const SAMPLE_DIR = join(PROJECT_ROOT, 'examples/sample');
/** The local home when neither --home nor PIPELINE_HOME says otherwise: `.pipeline` in the project. */
const DEFAULT_HOME = '.pipeline';
const SAMPLE_MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');

function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

const formatOption = () =>
  new Option('--format <format>', 'output format: table for people, csv or json for programs (never cut)')
    .choices(['table', 'csv', 'json'])
    .default('table');

/**
 * Builds the program. `setExitCode` receives each command's exit code (commander's action handlers
 * cannot return one).
 */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('npm start --');
  program
    .description(
      'Batch inference with SageMaker Batch Transform, run on one machine: score files with models, query the results.',
    )
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (each command has its own: npm start -- run --help)')
    .addOption(
      new Option('--home <dir>', 'where local state lives').env('PIPELINE_HOME').default(DEFAULT_HOME),
    )
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 the run or query failed, 2 usage error.\nDocs: docs/cli.md',
    );

  // The default home is the project's own, wherever the command was typed (npm start from a
  // subfolder finds the same runs); a --home or PIPELINE_HOME the user gives is theirs to place.
  const home = (command: Command) =>
    command.getOptionValueSourceWithGlobals('home') === 'default'
      ? join(PROJECT_ROOT, DEFAULT_HOME)
      : resolve(command.optsWithGlobals().home as string);

  program
    .command('sample', { isDefault: true })
    .description('run the sample pipeline end to end (what `npm start` does)')
    .addOption(optionOf('--run-id <id>'))
    .action(async (_options, command: Command) => {
      const flags = command.opts();
      setExitCode(
        await withInterruptNotice(() =>
          runCommand({
            home: home(command),
            path: join(SAMPLE_DIR, 'input'),
            flags: { ...flags, model: [SAMPLE_MODEL], request: join(SAMPLE_DIR, 'run-request.json') },
            variantNames: ['xgb'],
          }),
        ),
      );
    });

  const run = program
    .command('run')
    .description('score a local file or folder with your model(s); results go to the local table')
    .argument(
      '[path]',
      'a data file or a folder of them: .csv or .libsvm for the built-in XGBoost container; .jsonl or .json for a --container that reads JSON (each optionally .gz)',
    )
    .addHelpText(
      'after',
      `
Examples:
  npm start -- run test.csv --model model.json                 # pandas' to_csv output as it is
  npm start -- run data/ --model a.json --model b.json         # two variants of one run
  npm start -- run test.csv --model model.json --labels no,yes --threshold 0.7
  npm start -- run data.jsonl --container http://127.0.0.1:8080
  npm start -- run test.csv --request settings.json --run-id nightly   # flags override the file

A CSV header is detected (or say --header / --no-header): it names the columns, which must be the
model's feature_names in its order when the model saved them, and pandas' unnamed index column becomes
the record id. Content type and compression come from the file names.`,
    );
  addRunFlags(run).action(async (path: string | undefined, _options, command: Command) => {
    setExitCode(
      await withInterruptNotice(() => runCommand({ home: home(command), path, flags: command.opts() })),
    );
  });

  program
    .command('query')
    .description('run SQL over the local results, or a named query from queries/')
    .argument('<sql-or-name...>', 'SQL text (quote it), or the name of a query in queries/ (e.g. summary)')
    .option('-p, --param <value>', 'a value for the next ? placeholder (repeatable, in order)', collect, [])
    .addOption(formatOption())
    .option('--table <name>', 'the results table a named query reads', 'predictions')
    .addHelpText(
      'after',
      `
Examples:
  npm start -- query summary --param sample
  npm start -- query "SELECT label, count(*) AS n FROM predictions WHERE run_id = ? GROUP BY label" --param sample
  npm start -- query "SELECT * FROM predictions" --format csv > predictions.csv`,
    )
    .action(
      async (
        words: string[],
        options: { param: string[]; format: QueryFormat; table: string },
        command: Command,
      ) => {
        setExitCode(
          await queryCommand({
            home: home(command),
            text: words.join(' '),
            params: options.param,
            format: options.format,
            table: options.table,
          }),
        );
      },
    );

  const runs = program
    .command('runs')
    .description('list the runs kept in the local home (runs rm ID deletes one)');
  runs
    .command('list', { isDefault: true })
    .description('list runs, newest first')
    .addOption(formatOption())
    .action(async (options: { format: QueryFormat }, command: Command) => {
      setExitCode(await runsListCommand(home(command), options.format));
    });
  runs
    .command('rm')
    .description('delete one run: its partitions from the catalog, its results, scratch and summary')
    .argument('<run-id>', 'the run to delete (npm start -- runs lists them)')
    .action(async (runId: string, _options, command: Command) => {
      setExitCode(await runsRemoveCommand(home(command), runId));
    });

  program
    .command('serve-model')
    .description('serve a model on the SageMaker container contract (GET /ping, POST /invocations)')
    .option(
      '-m, --model <path>',
      'model file, folder or model.tar.gz (default $SM_MODEL_DIR, then /opt/ml/model)',
    )
    .option('--port <port>', 'port (default $SAGEMAKER_BIND_TO_PORT, then 8080; 0 picks a free one)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (options: { model?: string; port?: string; host?: string }) => {
      const { serveModelCommand } = await import('../model-server/main.js');
      setExitCode(await serveModelCommand(options));
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function optionOf(flags: string): Option {
  const flag = RUN_FLAGS.find((f) => f.flags === flags);
  if (!flag) throw new Error(`No run flag ${flags}`);
  const option = new Option(flag.flags, flag.description);
  if (flag.parse) option.argParser(flag.parse as (value: string, previous: unknown) => unknown);
  return option;
}

/**
 * Runs the CLI on `argv` (without node and the script); resolves with the exit code. Usage mistakes
 * give 2 with commander's message; a failed run gives 1; any other error is printed and gives 1.
 */
export async function main(argv: string[]): Promise<number> {
  dropOutputWhenReaderCloses();
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  const first = argv[0];
  if (
    first !== undefined &&
    !first.startsWith('-') &&
    !program.commands.some((c) => c.name() === first || c.aliases().includes(first))
  ) {
    process.stderr.write(
      `error: unknown command '${first}' (commands: ${program.commands.map((c) => c.name()).join(', ')})\n(add --help for usage)\n`,
    );
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`Error: ${error.message}\n(add --help for usage)\n`);
      return EXIT_USAGE;
    }
    const e = error as Error;
    process.stderr.write(`Error: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}\n`);
    return EXIT_FAILED;
  }
}
