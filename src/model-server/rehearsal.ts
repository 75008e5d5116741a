/**
 * A standby server process's rehearsal (main.ts standBy): while it waits for its start, it listens on a
 * throwaway loopback port and answers one ping there, so the job's server finds that code warm. V8
 * compiles each function, and each regular expression, on first use: the server's first listen
 * compiled Node's IPv6 address pattern (14 ms in the sample run), while the run waited for it. (A
 * rehearsed batch of predictions as well gained nothing measurable: the job's first batch is small.)
 */
import { request } from 'node:http';
import { containerSettingsFromEnv, startModelServer } from './server.js';
import type { XGBoostModel } from './xgboost-model.js';

/**
 * Serves `model` on 127.0.0.1, port 0, answers one GET /ping, then closes. Never throws: a rehearsal
 * that fails only leaves the code as cold as it was.
 */
export async function rehearse(model: XGBoostModel): Promise<void> {
  try {
    const server = await startModelServer({
      model,
      port: 0,
      host: '127.0.0.1',
      settings: containerSettingsFromEnv({}),
    });
    try {
      await ping(server.port);
    } finally {
      await server.close();
    }
  } catch {
    // Nothing to report: the job's own requests say what is wrong, if anything is.
  }
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'GET',
        path: '/ping',
        agent: false,
      },
      (res) => {
        res.resume();
        res.once('end', resolve);
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end();
  });
}
