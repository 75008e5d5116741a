/**
 * How the command line behaves when its output or its user goes away: a reader that quits early
 * (`npm start -- runs | head`) and Ctrl-C.
 */

/**
 * Lets a command carry on when the reader of its output has gone (`| head`): what it would still print
 * is dropped instead of ending the process with an unhandled EPIPE and a stack trace. A run piped into
 * `head` therefore still finishes and publishes its results; a query or a listing simply ends.
 */
export function dropOutputWhenReaderCloses(
  streams: NodeJS.WritableStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    if (guarded.has(stream)) continue; // main() may run more than once in a process (tests)
    guarded.add(stream);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      throw error;
    });
  }
}

const guarded = new WeakSet<NodeJS.WritableStream>();

/** What Ctrl-C during a run prints before the run stops. */
export const INTERRUPTED_RUN_MESSAGE =
  'Interrupted: the run stopped before it finished. The next run in this home cleans up what it left ' +
  'and says what it did; `npm start -- runs` shows each run’s state.';

/**
 * Runs `work` (a run) so that Ctrl-C says what happened before the process stops. The process then
 * stops exactly as Ctrl-C would have stopped it (the signal is raised again with no listener left), so
 * npm and the shell see what they always saw, and whatever the run left is cleaned by the next one, as
 * after any kill.
 */
export async function withInterruptNotice<T>(work: () => Promise<T>): Promise<T> {
  const onInterrupt = () => {
    // Stopped once the message is out (stderr on a pipe is asynchronous on some systems).
    process.stderr.write(`\n${INTERRUPTED_RUN_MESSAGE}\n`, () => process.kill(process.pid, 'SIGINT'));
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
