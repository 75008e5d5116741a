/** Types of scripts/cli-loader.mjs, for the tests. */
export function cacheName(args: string[]): string;
export function loadCli(
  dir: string,
  args: string[],
): { main: (args: string[]) => Promise<number>; cache: 'accepted' | 'rejected' | 'none' };
