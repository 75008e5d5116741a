/**
 * AWS's own API models as the reference for request shapes: `aws_request_shape.py` checks a request
 * against botocore's service model (required and unknown members, types, enums, lengths, ranges,
 * patterns). botocore comes with moto (`pip install 'moto[server]'`), so the Python that runs
 * moto_server has it; Debian's /usr/bin/python3 usually does not.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'aws_request_shape.py');

let python: string | undefined;

/** The interpreter of moto_server's script when it is a Python script (pip, pipx), else undefined. */
function motoServerPython(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const script = join(dir, 'moto_server');
    if (!existsSync(script)) continue;
    const first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
    const match = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(first);
    return match?.[1];
  }
  return undefined;
}

/**
 * The first Python that can import botocore: MOTO_PYTHON, the one moto_server runs with, python3 on
 * PATH, Debian's.
 */
function pythonWithBotocore(): string {
  if (python) return python;
  const candidates = [process.env.MOTO_PYTHON, motoServerPython(), 'python3', '/usr/bin/python3'].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', 'import botocore'], { stdio: 'ignore' });
      python = candidate;
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(
    `No Python with botocore among ${candidates.join(', ')}: install moto (pip install 'moto[server]', which brings botocore) or set MOTO_PYTHON to the Python that runs moto_server`,
  );
}

/** A request to check: botocore's service name (`sagemaker`), the operation and its parameters. */
export interface AwsRequest {
  service: string;
  operation: string;
  params: unknown;
}

/**
 * What AWS's model finds wrong with each request (an empty list: nothing), in one Python process
 * (loading a service model takes about a second).
 */
export function awsRequestProblems(requests: readonly AwsRequest[]): string[][] {
  const output = execFileSync(pythonWithBotocore(), [SCRIPT], {
    input: JSON.stringify(requests),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as string[][];
}

/**
 * Renders a Task state's `Parameters` over its input as Step Functions does for the forms the ASL
 * uses: a `key.$` takes the value at a `$.a.b` path of the input (a missing path fails, as the
 * States.Runtime error would); other values are copied, objects recursively.
 */
export function renderParameters(
  parameters: Record<string, unknown>,
  input: unknown,
): Record<string, unknown> {
  const rendered: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (key.endsWith('.$')) {
      if (typeof value !== 'string' || !/^\$(\.[A-Za-z0-9_]+)*$/.test(value)) {
        throw new Error(`renderParameters handles "$.a.b" paths only, got ${key}: ${JSON.stringify(value)}`);
      }
      let found: unknown = input;
      for (const part of value.split('.').slice(1)) {
        if (found === null || typeof found !== 'object' || !(part in found)) {
          throw new Error(`States.Runtime: the path ${value} (${key}) is not in the input`);
        }
        found = (found as Record<string, unknown>)[part];
      }
      rendered[key.slice(0, -2)] = found;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      rendered[key] = renderParameters(value as Record<string, unknown>, input);
    } else {
      rendered[key] = value;
    }
  }
  return rendered;
}
