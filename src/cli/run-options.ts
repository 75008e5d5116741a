/**
 * The `run` command's flags, each declared once with how it changes the run request.
 *
 * To add a flag: add one entry to RUN_FLAGS (its commander spelling, help text, value parser and the
 * request fields it sets). Flags win over a request file's fields, which win over what the CLI infers
 * from the input's file names and header (docs/cli.md, "How flags and a request file combine").
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { isRunId } from '../core/run-id.js';
import type { RunRequest } from '../core/run-request.js';
import { CONTENT_TYPE_ALIASES } from './local-input.js';

/** A run request being put together: every part optional until it is validated. */
export type PartialRunRequest = Partial<RunRequest>;

/** One flag of `run`: how it is spelt and parsed, and which request fields it sets. */
export interface RunFlag {
  /** Commander's option spelling, e.g. `--labels <names>`. */
  flags: string;
  description: string;
  /** The property commander stores the value under (camelCase of the long name). */
  key: string;
  /** Turns the text into the value (throw InvalidArgumentError for a usage error, exit code 2). */
  parse?: (value: string, previous: unknown) => unknown;
  /** Writes the value into the request. Flags without it are read by the command itself. */
  apply?: (request: PartialRunRequest, value: never) => void;
  /** Shown in --help as the default. */
  defaultDescription?: string;
}

const results = (request: PartialRunRequest) => {
  request.results ??= {};
  return request.results;
};
const transform = (request: PartialRunRequest) => {
  request.transform ??= {};
  return request.transform;
};
const collect = (value: string, previous: unknown) => [...((previous as string[] | undefined) ?? []), value];
const commaList = (value: string, previous: unknown) => [
  ...((previous as string[] | undefined) ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];

/** A flag's number parser: a finite number from 0 to `max`, or a usage error saying `hint`. */
function numberFlag(max: number, hint: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number < 0 || number > max) {
      throw new InvalidArgumentError(hint);
    }
    return number;
  };
}

/** Every flag of `run` (and of the default sample command where it applies). */
export const RUN_FLAGS: readonly RunFlag[] = [
  {
    flags: '-m, --model <file>',
    key: 'model',
    description: 'an XGBoost model file served by the built-in container (repeat for variants)',
    parse: collect,
  },
  {
    flags: '--container <url>',
    key: 'container',
    description:
      'a running container speaking the SageMaker contract, e.g. http://127.0.0.1:8080 (repeatable)',
    parse: collect,
  },
  {
    flags: '--request <file.json>',
    key: 'request',
    description:
      'a run request, whole or partial (schemas/run-request.schema.json); flags override its fields',
  },
  {
    flags: '--run-id <id>',
    key: 'runId',
    description: 'name the run (lowercase letters, digits, -); re-running an id replaces its results',
    defaultDescription: 'the input file or folder name',
    parse: (value) => {
      if (!isRunId(value)) {
        throw new InvalidArgumentError(
          'use 1-32 lowercase letters, digits and -, starting with a letter or digit',
        );
      }
      return value;
    },
    apply: (request, value: string) => {
      request.runId = value;
    },
  },
  {
    flags: '--labels <names>',
    key: 'labels',
    description:
      'class names by class index, comma-separated: for a binary model, no,yes (yes = score ≥ threshold)',
    parse: (value) => {
      const labels = commaList(value, undefined);
      if (labels.length < 2 || new Set(labels).size !== labels.length) {
        throw new InvalidArgumentError(
          `give at least two distinct names, comma-separated, e.g. --labels no,yes`,
        );
      }
      return labels;
    },
    apply: (request, value: string[]) => {
      results(request).labels = value;
    },
  },
  {
    flags: '--threshold <score>',
    key: 'threshold',
    description: 'binary models: the score at or above which a record gets the second label (or class 1)',
    defaultDescription: '0.5',
    parse: numberFlag(1, 'give a number from 0 to 1, e.g. --threshold 0.7'),
    apply: (request, value: number) => {
      results(request).threshold = value;
    },
  },
  {
    flags: '--id-column <name>',
    key: 'idColumn',
    description:
      "the column (CSV header name) or JSON key holding each record's id; kept from the model's input",
    defaultDescription: "pandas' unnamed index column, when the CSV has one",
    apply: (request, value: string) => {
      results(request).idColumn = value;
    },
  },
  {
    flags: '--actual-column <name>',
    key: 'actualColumn',
    description:
      'the column (CSV header name) or JSON key holding the true outcome: kept from the model, stored as actual, measured by the evaluation query',
    apply: (request, value: string) => {
      results(request).actualColumn = value;
    },
  },
  {
    flags: '--baseline <run-id>',
    key: 'baseline',
    description: 'the run the drift query compares this one with',
    defaultDescription: 'the previous run of the same table and variant',
    parse: (value) => {
      if (!isRunId(value)) {
        throw new InvalidArgumentError('give a run id: 1-32 lowercase letters, digits and -');
      }
      return value;
    },
    apply: (request, value: string) => {
      results(request).baselineRunId = value;
    },
  },
  {
    flags: '--price-per-hour <price>',
    key: 'pricePerHour',
    description:
      'the price of one instance-hour, in your currency: the report turns billable seconds into cost (no price table is built in)',
    parse: numberFlag(Number.POSITIVE_INFINITY, 'give a number of at least 0, e.g. --price-per-hour 0.23'),
    apply: (request, value: number) => {
      results(request).pricePerHour = value;
    },
  },
  {
    flags: '--suffix <suffix>',
    key: 'suffix',
    description: 'only files ending in this (repeatable or comma-separated, e.g. .csv,.csv.gz)',
    defaultDescription: 'known data suffixes: .csv .jsonl .ndjson .json .libsvm, each optionally .gz',
    parse: commaList,
  },
  {
    flags: '--content-type <type>',
    key: 'contentType',
    description: 'csv, jsonl, json, libsvm or a media type',
    defaultDescription: 'from the file names',
    parse: (value) => CONTENT_TYPE_ALIASES[value.toLowerCase()] ?? value,
    apply: (request, value: string) => {
      transform(request).ContentType = value;
    },
  },
  {
    flags: '--compression <kind>',
    key: 'compression',
    description: 'gzip or none',
    defaultDescription: 'gzip for names ending in .gz',
    parse: (value) => {
      const kind = value.toLowerCase();
      if (kind !== 'gzip' && kind !== 'none') throw new InvalidArgumentError('give gzip or none');
      return kind === 'gzip' ? 'Gzip' : 'None';
    },
    apply: (request, value: 'Gzip' | 'None') => {
      transform(request).CompressionType = value;
    },
  },
  {
    flags: '--store-features',
    key: 'storeFeatures',
    description: "store each record's features in the results table too (one copy of the input per variant)",
    defaultDescription: 'off: the features column stays null; your file is the features',
    apply: (request, value: boolean) => {
      results(request).storeFeatures = value;
    },
  },
  {
    flags: '--header',
    key: 'header',
    description: 'CSV: the first line is a header (names the columns)',
    defaultDescription: 'detected',
  },
  {
    flags: '--no-header',
    key: 'header',
    description: 'CSV: the first line is data',
  },
  {
    flags: '--ignore-feature-names',
    key: 'ignoreFeatureNames',
    description:
      "CSV: score the columns in file order even when the header's names are not the model's feature_names (as XGBoost's validate_features=False)",
    defaultDescription: 'off: such a file is refused, as XGBoost refuses it',
  },
];

/**
 * The results fields naming input columns the model must not see. The CLI checks each names a column
 * of the CSV's header; BuildManifest keeps them from the model's input.
 */
export const COLUMNS_KEPT_FROM_MODEL = ['idColumn', 'actualColumn'] as const satisfies ReadonlyArray<
  keyof NonNullable<RunRequest['results']>
>;

/** Declares every run flag on a command. */
export function addRunFlags(command: Command, flags: readonly RunFlag[] = RUN_FLAGS): Command {
  for (const flag of flags) {
    const option = new Option(flag.flags, flag.description);
    if (flag.parse) option.argParser(flag.parse as (value: string, previous: unknown) => unknown);
    if (flag.defaultDescription) option.default(undefined, flag.defaultDescription);
    command.addOption(option);
  }
  return command;
}

/** Writes the flags the user gave into the request (the file's fields they name are replaced). */
export function applyRunFlags(
  request: PartialRunRequest,
  values: Record<string, unknown>,
): PartialRunRequest {
  for (const flag of RUN_FLAGS) {
    const value = values[flag.key];
    if (value !== undefined && flag.apply) flag.apply(request, value as never);
  }
  return request;
}
