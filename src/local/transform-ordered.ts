import pLimit from 'p-limit';

/**
 * Maps an async source through an async function with at most `concurrency` calls running, yielding
 * results in source order. At most `window` items are taken from the source ahead of the consumer, so
 * memory is bounded by the window whatever the source's size, and a slow consumer (e.g. a disk write)
 * stops the source from being read: that is the engine's backpressure.
 *
 * When the consumer stops early or a call fails, the source is closed and every call already started
 * is awaited before the generator finishes, so nothing keeps running after the job has ended.
 */
export async function* mapOrdered<T, R>(
  source: AsyncIterable<T>,
  fn: (item: T) => Promise<R>,
  options: { concurrency: number; window: number },
): AsyncGenerator<R> {
  const concurrency = Math.max(1, options.concurrency);
  const window = Math.max(concurrency, options.window);
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<R>[] = [];
  const limit = pLimit(concurrency);
  let exhausted = false;
  const run = (item: T): Promise<R> => limit(() => fn(item));

  try {
    while (true) {
      while (!exhausted && pending.length < window) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const promise = run(next.value);
        // Rejections are handled when the result's turn comes; this only keeps Node from calling them
        // unhandled in the meantime.
        promise.catch(() => undefined);
        pending.push(promise);
      }
      const head = pending.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    if (!exhausted) await iterator.return?.(undefined);
    await Promise.allSettled(pending);
  }
}
