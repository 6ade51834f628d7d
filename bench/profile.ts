/**
 * Where a lifecycle benchmark's time goes (bench:e2e): CPU seconds of the processes that do the work (this process —
 * worker and driver —, its child processes such as the OCR engine, the Temporal dev server it started, the Postgres
 * backends of its database), the duration of each activity as the worker ran it (local ones apart), and the workflow
 * task and activity latencies recorded in the histories.
 *
 * Linux only (/proc); elsewhere the CPU figures are left out.
 */
import type { IntervalHistogram } from 'node:perf_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import type { DataSource } from 'typeorm';

import { processIds, procStat } from '../src/simulate/resources';

/** utime+stime (and cutime+cstime: waited-for children) of a process in seconds, undefined when it is gone. */
function procCpu(pid: number): { self: number; children: number } | undefined {
  const s = procStat(pid);
  return s && { self: s.cpuSeconds, children: s.childrenCpuSeconds };
}

/** Child processes of `ppid` whose command name starts with `name`. */
function childrenNamed(ppid: number, name: string): number[] {
  return processIds().filter((pid) => {
    const s = procStat(pid);
    return s !== undefined && s.ppid === ppid && s.comm.startsWith(name);
  });
}

/** CPU seconds spent during one phase, by process group. */
export interface CpuFigures {
  wallS: number;
  /** This process: the worker (Node and its Rust core threads) and the benchmark's driver. */
  worker: number;
  /** Child processes this one waited for (OCR, gdcmconv). */
  children: number;
  temporal: number;
  /** The Postgres backends connected to the benchmark's database (not the server's shared processes). */
  postgres: number;
  /** Delay of this process's event loop (ms): how long a ready callback (an activity's next step, a query's answer) waits. */
  loopDelayP50: number;
  loopDelayP99: number;
}

/** Samples CPU of the processes of one phase. */
export class CpuSampler {
  private loop?: IntervalHistogram;
  private start?: { at: number; self: { self: number; children: number }; temporal: Map<number, number>; pg: Map<number, number> };

  constructor(private readonly ds: DataSource) {}

  private temporalPids(): number[] {
    return childrenNamed(process.pid, 'temporal');
  }

  private async pgPids(): Promise<number[]> {
    const rows: { pid: number }[] = await this.ds.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
    return rows.map((r) => Number(r.pid));
  }

  private async snapshot(): Promise<{ temporal: Map<number, number>; pg: Map<number, number> }> {
    const temporal = new Map<number, number>();
    for (const pid of this.temporalPids()) temporal.set(pid, procCpu(pid)?.self ?? 0);
    const pg = new Map<number, number>();
    for (const pid of await this.pgPids()) pg.set(pid, procCpu(pid)?.self ?? 0);
    return { temporal, pg };
  }

  async begin(): Promise<void> {
    const snap = await this.snapshot();
    this.start = { at: Date.now(), self: procCpu(process.pid) ?? { self: 0, children: 0 }, ...snap };
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  async end(): Promise<CpuFigures> {
    const start = this.start!;
    this.loop?.disable();
    const loop = this.loop;
    const self = procCpu(process.pid) ?? { self: 0, children: 0 };
    const snap = await this.snapshot();
    const delta = (now: Map<number, number>, then: Map<number, number>): number => {
      let sum = 0;
      for (const [pid, cpu] of now) sum += cpu - (then.get(pid) ?? 0);
      return sum;
    };
    return {
      wallS: (Date.now() - start.at) / 1000,
      worker: self.self - start.self.self,
      children: self.children - start.self.children,
      temporal: delta(snap.temporal, start.temporal),
      postgres: delta(snap.pg, start.pg),
      loopDelayP50: loop ? loop.percentile(50) / 1e6 : 0,
      loopDelayP99: loop ? loop.percentile(99) / 1e6 : 0,
    };
  }
}

export function cpuLine(label: string, c: CpuFigures, scans: number): string {
  const per = (s: number): string => `${s.toFixed(1)} s (${((s * 1000) / scans).toFixed(0)} ms/scan)`;
  return `  ${label} CPU over ${c.wallS.toFixed(1)} s: worker+driver ${per(c.worker)}, OCR/tools ${per(c.children)}, Temporal server ${per(c.temporal)}, Postgres backends ${per(c.postgres)}; event loop delay p50 ${c.loopDelayP50.toFixed(0)} ms p99 ${c.loopDelayP99.toFixed(0)} ms`;
}

/** Durations (ms) of activity executions by name, local ones apart (`name (local)`). */
export class ActivityTimes {
  readonly ms = new Map<string, number[]>();

  /** The activities with each call timed. */
  wrap<T extends object>(activities: T): T {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(activities)) {
      if (typeof fn !== 'function') {
        out[name] = fn;
        continue;
      }
      out[name] = async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        } finally {
          let local = false;
          try {
            local = Context.current().info.isLocal;
          } catch {
            // outside an activity
          }
          const key = local ? `${name} (local)` : name;
          const list = this.ms.get(key) ?? [];
          list.push(performance.now() - t0);
          this.ms.set(key, list);
        }
      };
    }
    return out as T;
  }

  lines(scans: number): string[] {
    return [...this.ms.entries()]
      .sort((a, b) => sum(b[1]) - sum(a[1]))
      .map(([k, v]) => `    ${k.padEnd(28)} ${String(v.length).padStart(5)} calls  p50 ${fmt(pct(v, 0.5))} ms  p95 ${fmt(pct(v, 0.95))} ms  total ${((sum(v) / scans)).toFixed(1)} ms/scan`);
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

function fmt(x: number): string {
  return x < 10 ? x.toFixed(1) : x.toFixed(0);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function ms(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Latencies recorded in histories: workflow tasks (queue wait, processing), activities by type, whole runs. */
export class HistoryTimes {
  private readonly wftWait: number[] = [];
  private readonly wftRun: number[] = [];
  private readonly wftCount: number[] = [];
  private readonly actWait = new Map<string, number[]>();
  private readonly actRun = new Map<string, number[]>();
  private readonly runMs: number[] = [];

  add(events: HistoryEvent[]): void {
    const T = temporal.api.enums.v1.EventType;
    const byId = new Map<number, HistoryEvent>();
    let wfts = 0;
    for (const e of events) {
      byId.set(Number(e.eventId), e);
      switch (e.eventType) {
        case T.EVENT_TYPE_WORKFLOW_TASK_STARTED: {
          const sched = byId.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId));
          if (sched) this.wftWait.push(ms(e) - ms(sched));
          break;
        }
        case T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
          wfts += 1;
          const started = byId.get(Number(e.workflowTaskCompletedEventAttributes?.startedEventId));
          if (started) this.wftRun.push(ms(e) - ms(started));
          break;
        }
        case T.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const sched = byId.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId));
          const name = sched?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
          if (sched) push(this.actWait, name, ms(e) - ms(sched));
          break;
        }
        case T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          const a = e.activityTaskCompletedEventAttributes;
          const sched = byId.get(Number(a?.scheduledEventId));
          const started = byId.get(Number(a?.startedEventId));
          const name = sched?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
          if (started) push(this.actRun, name, ms(e) - ms(started));
          break;
        }
        default:
      }
    }
    this.wftCount.push(wfts);
    if (events.length > 1) this.runMs.push(ms(events[events.length - 1]) - ms(events[0]));
  }

  lines(): string[] {
    const out = [
      `    workflow tasks   ${fmt(mean(this.wftCount))} per run; queue wait p50 ${fmt(pct(this.wftWait, 0.5))} ms p95 ${fmt(pct(this.wftWait, 0.95))} ms; processing p50 ${fmt(pct(this.wftRun, 0.5))} ms p95 ${fmt(pct(this.wftRun, 0.95))} ms`,
    ];
    for (const [name, run] of this.actRun) {
      const wait = this.actWait.get(name) ?? [];
      out.push(`    activity ${name.padEnd(16)} queue wait p50 ${fmt(pct(wait, 0.5))} ms; run p50 ${fmt(pct(run, 0.5))} ms p95 ${fmt(pct(run, 0.95))} ms`);
    }
    out.push(`    run start→end   p50 ${fmt(pct(this.runMs, 0.5) / 1000)} s p95 ${fmt(pct(this.runMs, 0.95) / 1000)} s`);
    return out;
  }
}

function push(m: Map<string, number[]>, k: string, v: number): void {
  const l = m.get(k) ?? [];
  l.push(v);
  m.set(k, l);
}

function mean(xs: number[]): number {
  return xs.length ? sum(xs) / xs.length : 0;
}
