/**
 * Peak memory of a process and every process it starts (model server, its workers, DuckDB inside the
 * CLI), read from Linux's /proc: every 50 ms the tree under the root pid is walked and each process's
 * VmHWM (the kernel's own high-water mark of its resident set) is kept, so a peak between two samples
 * is not missed while the process lives. The sum of the tree's VmRSS at each sample gives the peak of
 * the whole tree at one moment.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessPeak {
  pid: number;
  /** What the process is, from its command line: "CLI", "model server", "model server worker", "python". */
  role: string;
  peakMB: number;
}

export interface TreePeaks {
  processes: ProcessPeak[];
  /** The largest sum of the tree's resident sets at one sample. */
  treePeakMB: number;
}

function statusKb(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(pid);
    children.set(parent, list);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function roleOf(command: string, parentCommand: string): string {
  if (command.includes('model-server')) {
    return parentCommand.includes('model-server') ? 'model server worker' : 'model server';
  }
  if (command.includes('python')) return 'python';
  if (command.includes('start.mjs') || command.includes('cli')) return 'CLI (engine, parse, DuckDB)';
  if (command.includes('chrom')) return 'chromium';
  return command.split(' ')[0] ?? 'process';
}

/** Starts sampling the tree under `root`; `stop()` returns the peaks. Linux only. */
export function sampleTree(root: number, intervalMs = 50): { stop: () => TreePeaks } {
  const peaks = new Map<number, ProcessPeak>();
  let treePeakKb = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of treeOf(root)) {
      const hwm = statusKb(pid, 'VmHWM');
      const rss = statusKb(pid, 'VmRSS');
      if (hwm === undefined || rss === undefined) continue;
      sum += rss;
      // The role is read again each time: a child is sampled as a copy of its parent between fork and exec.
      const parent = parentOf(pid);
      const role = roleOf(commandLine(pid), parent === undefined ? '' : commandLine(parent));
      const known = peaks.get(pid);
      if (known) {
        known.peakMB = Math.max(known.peakMB, hwm / 1024);
        known.role = role;
      } else peaks.set(pid, { pid, role, peakMB: hwm / 1024 });
    }
    treePeakKb = Math.max(treePeakKb, sum);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { processes: [...peaks.values()], treePeakMB: treePeakKb / 1024 };
    },
  };
}
