/**
 * What the run cost the machine (Linux `/proc`): CPU seconds and peak resident memory (VmHWM) of the simulator's own
 * ReadFlow processes, read just before the stack stops. With the figures of the run they show where the limit is
 * (worker, API, Temporal server, Postgres). Elsewhere than Linux: nothing (the report says so).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU and memory of one process (its children not included). */
export interface ProcessUsage {
  pid: number;
  cpuSeconds: number;
  peakRssMiB: number;
  rssMiB: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on every Linux this runs on). */
const USER_HZ = 100;

/** What `/proc/<pid>/stat` says of a process (CPU in seconds), or undefined when it is gone (or not on Linux). */
export interface ProcStat {
  /** utime + stime. */
  cpuSeconds: number;
  /** cutime + cstime: the children it waited for. */
  childrenCpuSeconds: number;
  ppid: number;
  /** The command name (at most 15 characters). */
  comm: string;
}

export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields after its closing parenthesis, numbered from 3 (state).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(f[i - 3]);
    return {
      cpuSeconds: (n(14) + n(15)) / USER_HZ,
      childrenCpuSeconds: (n(16) + n(17)) / USER_HZ,
      ppid: n(4),
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    };
  } catch {
    return undefined;
  }
}

/** The ids of the processes this one can see (none elsewhere than Linux). */
export function processIds(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/** The usage of one process, or undefined when it is gone (or not on Linux). */
export function usageOf(pid: number): ProcessUsage | undefined {
  const stat = procStat(pid);
  if (!stat) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { pid, cpuSeconds: Math.round(stat.cpuSeconds * 10) / 10, peakRssMiB: Math.round(kib('VmHWM') / 102.4) / 10, rssMiB: Math.round(kib('VmRSS') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

/** Processes whose command line contains `needle` (e.g. the run's own SQLite file: its Temporal dev server). */
export function pidsWithArg(needle: string): number[] {
  return processIds().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes(needle));
    } catch {
      return false; // gone meanwhile, or not ours to read
    }
  });
}

/** The sum of several processes' usage (Postgres backends of one database). */
export function sumUsage(pids: readonly number[]): { processes: number; cpuSeconds: number; peakRssMiB: number } {
  const us = pids.map(usageOf).filter((u): u is ProcessUsage => u !== undefined);
  return {
    processes: us.length,
    cpuSeconds: Math.round(us.reduce((a, u) => a + u.cpuSeconds, 0) * 10) / 10,
    peakRssMiB: Math.round(us.reduce((a, u) => a + u.peakRssMiB, 0) * 10) / 10,
  };
}
