/**
 * Checks a `--container` URL before a run starts, so a typo or a stopped container costs seconds, not
 * the engine's 60 s health-check wait, and each cause gets its own message and fix.
 */

import { request as httpRequest } from 'node:http';

/** SageMaker gives a container's /ping 2 s to answer. */
const PING_TIMEOUT_MS = 2000;
/** How long a refused connection is retried (a container that is still starting). */
const REFUSED_GRACE_MS = 3000;

/**
 * GETs `<url>/ping` as SageMaker does; resolves when it answers 200.
 *
 * @throws Error naming the URL, the cause (refused, unknown host, timeout, 404, other status) and the fix.
 */
export async function checkContainer(url: string): Promise<void> {
  const ping = new URL('ping', url.endsWith('/') ? url : `${url}/`).toString();
  const started = Date.now();
  for (;;) {
    let response: { status: number };
    try {
      response = await get(ping, PING_TIMEOUT_MS);
    } catch (error) {
      const code = causeCode(error);
      if (code === 'ECONNREFUSED' && Date.now() - started < REFUSED_GRACE_MS) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      throw new Error(unreachable(url, ping, code, error as Error));
    }
    if (response.status === 200) return;
    if (response.status === 404) {
      throw new Error(
        `The container at ${url} answered GET ${ping} with 404 Not Found: it does not speak the SageMaker ` +
          'container contract (GET /ping must answer 200, POST /invocations must predict). Give the ' +
          "container's root URL (e.g. http://127.0.0.1:8080, no path), or start one: npm start -- serve-model --model model.json",
      );
    }
    throw new Error(
      `The container at ${url} answered GET ${ping} with HTTP ${response.status}: it is running but not healthy ` +
        '(SageMaker needs 200). Check its log; a container still loading its model answers 200 once ready.',
    );
  }
}

function unreachable(url: string, ping: string, code: string | undefined, error: Error): string {
  const host = new URL(url).host;
  switch (code) {
    case 'ECONNREFUSED':
      return (
        `Nothing is listening at ${url} (connection refused by ${host}). Start the container first ` +
        `(e.g. npm start -- serve-model --model model.json --port ${new URL(url).port || '8080'}), or fix the port in --container.`
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host in ${url} cannot be found (${code}). Check the spelling of --container, e.g. http://127.0.0.1:8080.`;
    case 'TimeoutError':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return (
        `The container at ${url} did not answer GET ${ping} within ${PING_TIMEOUT_MS / 1000} s (SageMaker's limit). ` +
        'It may be busy loading its model, stuck, or not an HTTP server on that port; check its log, or the port.'
      );
    default:
      return `Cannot reach the container at ${url}: ${code ?? error.message}. Check that it runs and that --container is its address.`;
  }
}

/** GET with node:http (fetch refuses "bad ports" such as 9 with no useful cause). */
function get(url: string, timeoutMs: number): Promise<{ status: number }> {
  // node:https (with TLS: 6 ms to load) only for an https:// container; every run loads this module.
  const request = url.startsWith('https:') ? process.getBuiltinModule('node:https').request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => {
      const error = new Error('timeout');
      error.name = 'TimeoutError';
      req.destroy(error);
    });
    req.on('error', reject);
    req.end();
  });
}

function causeCode(error: unknown): string | undefined {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'TimeoutError';
  return e.cause?.code ?? e.code ?? e.cause?.name;
}
