/**
 * Process entry of the built-in model container:
 *
 *   npx tsx src/model-server/main.ts --model examples/model/xgboost-model.json --port 8080
 *   npm start -- serve-model --model examples/model/xgboost-model.json
 *
 * Prints one line with the URL once it listens (the local engine waits for that line), and exits 0 on
 * SIGTERM or SIGINT after closing the server. As in a SageMaker container, the model defaults to
 * $SM_MODEL_DIR or /opt/ml/model and the port to $SAGEMAKER_BIND_TO_PORT or 8080.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SAGEMAKER_DEFAULT_PORT, SAGEMAKER_MODEL_DIR, startModelServer } from './server.js';

export interface ServeModelOptions {
  /** Model file, directory or model.tar.gz; default $SM_MODEL_DIR, then /opt/ml/model. */
  model?: string | undefined;
  /** Port as typed by the user; default $SAGEMAKER_BIND_TO_PORT, then 8080. "0" picks a free port. */
  port?: string | undefined;
  /** Default 127.0.0.1. */
  host?: string | undefined;
}

/**
 * Serves a model until SIGTERM or SIGINT; resolves with the exit code (0 after a clean stop, 1 when the
 * server cannot start, with the reason on stderr).
 */
export async function serveModelCommand(
  options: ServeModelOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const modelPath = options.model ?? env.SM_MODEL_DIR ?? SAGEMAKER_MODEL_DIR;
  const portText = options.port ?? env.SAGEMAKER_BIND_TO_PORT ?? String(SAGEMAKER_DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`Invalid port "${portText}"\n`);
    return 1;
  }
  let server: Awaited<ReturnType<typeof startModelServer>>;
  try {
    server = await startModelServer({ modelPath, port, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    process.stderr.write(`Model server could not start: ${(error as Error).message}\n`);
    return 1;
  }
  const { model } = server;
  process.stdout.write(
    `Model server listening on ${server.url} (${modelPath}: ${model.objective}, ` +
      `${model.numFeature} features, ${model.numTrees} trees)\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await server.close();
  process.stderr.write(`Model server stopped (${signal})\n`);
  return 0;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const { values } = parseArgs({
    // SageMaker starts containers as `docker run <image> serve`: the word is accepted and ignored.
    allowPositionals: true,
    options: { model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
  });
  process.exitCode = await serveModelCommand(values);
}
