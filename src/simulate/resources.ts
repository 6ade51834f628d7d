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

/** The usage of one process, or undefined when it is gone (or not on Linux). */
export function usageOf(pid: number): ProcessUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { pid, cpuSeconds: Math.round((ticks / USER_HZ) * 10) / 10, peakRssMiB: Math.round(kib('VmHWM') / 102.4) / 10, rssMiB: Math.round(kib('VmRSS') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

/** Processes whose command line contains `needle` (e.g. the run's own SQLite file: its Temporal dev server). */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').some((a) => a.includes(needle))) out.push(Number(e));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
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
