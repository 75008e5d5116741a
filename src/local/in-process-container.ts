/**
 * The built-in model server run inside this process, for a small job (model-containers.ts decides): the
 * same server code and HTTP contract on a loopback port, its settings read from the container's
 * environment alone, as a process of its own would read them. A process costs a second Node start and
 * its own load of the server's code: about 0.2–0.4 s of CPU on the sample run, where the whole job
 * predicts in a few milliseconds.
 */
import { TransientError } from '../errors.js';
import type { RunningModelServer } from '../model-server/server.js';

/**
 * Loads the model at `modelPath` and serves it on 127.0.0.1 (a free port) with the settings the
 * container's environment `env` gives (MAX_CONTENT_LENGTH, SAGEMAKER_INFERENCE_ENSEMBLE, …).
 *
 * @throws TransientError naming the model when the server cannot start (as a process that exits does).
 */
export async function startInProcessServer(
  modelName: string,
  modelPath: string,
  env: Record<string, string>,
): Promise<RunningModelServer> {
  const { containerSettingsFromEnv, startModelServer } = await import('../model-server/server.js');
  try {
    // startModelServer loads the model as the container does, with the settings' ensemble rule.
    const settings = containerSettingsFromEnv(env);
    return await startModelServer({ modelPath, port: 0, host: '127.0.0.1', settings });
  } catch (error) {
    throw new TransientError(`Model server for "${modelName}" could not start: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
