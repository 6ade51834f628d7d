import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { pidsWithArg, processIds, procStat, usageOf } from './resources';

describe('resources: what /proc says of a process', () => {
  it("reads this process's parent, name, CPU and memory, and its waited-for children's CPU", () => {
    const me = procStat(process.pid);
    // (The command name of a Node process is its main thread's: `node` on Node 20, `MainThread` on Node 24.)
    expect(me).toMatchObject({ ppid: process.ppid, comm: readFileSync('/proc/self/task/' + process.pid + '/comm', 'utf8').trim() });
    expect(processIds()).toContain(process.pid);
    const before = me?.childrenCpuSeconds ?? Number.NaN;
    // A child that spins for about 0.3 s of CPU, waited for.
    spawnSync(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 300000);']);
    expect((procStat(process.pid)?.childrenCpuSeconds ?? 0) - before).toBeGreaterThanOrEqual(0.2);
    const usage = usageOf(process.pid);
    expect(usage?.cpuSeconds).toBeGreaterThan(0);
    expect(usage?.peakRssMiB).toBeGreaterThanOrEqual(usage?.rssMiB ?? Infinity);
    expect(procStat(2 ** 22 + 1)).toBeUndefined();
    // The name of another program, read from its stat line.
    const sleeper = spawnSync('sh', ['-c', 'sleep 3 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    expect(procStat(Number(sleeper.stdout.trim()))?.comm).toBe('sleep');
  });

  it('finds processes by an argument of their command line', async () => {
    const marker = `readflow-resources-spec-${process.pid}`;
    expect(pidsWithArg(marker)).toEqual([]);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 10000)', marker], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(pidsWithArg(marker)).toEqual([child.pid]);
      expect(procStat(child.pid as number)).toMatchObject({ ppid: process.pid });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
