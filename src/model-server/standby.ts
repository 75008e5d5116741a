/**
 * The handshake of a built-in server process started ahead of need (src/local/model-containers.ts
 * starts it, src/model-server/main.ts waits in it): kept apart so the CLI shares only these two names
 * with the server's code.
 */

/** The first argument of a process that loads the server's code and waits for its start on the IPC channel. */
export const STANDBY_ARGUMENT = '--standby';

/** What the local pipeline sends a standby process: the command line and environment to run with. */
export interface StandbyStart {
  /** The arguments after the server script's path, as a process started for the job would get them. */
  argv: string[];
  /** The whole process environment of such a process. */
  env: Record<string, string>;
}
