/**
 * The Temporal UI speaks ReadFlow: a scan's static summary and details, its current details (stage, task holders and
 * deadlines, what it waits for) and the summaries of its activities and timers, read back the way the UI reads them
 * (describe, the `__temporal_workflow_metadata` query, the history's user metadata) from a real scan on the real dev
 * server. User metadata goes through the payload codec (ciphertext at rest); decoded, it holds nothing identifying.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

import { DEFAULT_POLICIES, policyWithDeadlines } from '../../src/domain';
import { ENCRYPTED_ENCODING, isEncrypted } from '../../src/temporal/payload-codec';
import { submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import type { ScanLifecycleInput } from '../../src/workflows/scan-lifecycle.messages';
import {
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  simulatedReading,
  startScan,
  startWorkflowRig,
  uniqueTag,
  waitForStatus,
} from '../support/workflow-harness';
import type { WorkflowRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

/** Reading deadline: two readers answer well within it, the third lets it expire (reassigned). */
const DEADLINE_MS = 6000;

describe('Temporal user metadata of a scan (what operators see in the UI)', () => {
  let rig: WorkflowRig;

  beforeAll(async () => {
    rig = await startWorkflowRig();
  });

  afterAll(async () => {
    await rig?.close();
  });

  async function decode(p: Payload | null | undefined): Promise<string | undefined> {
    if (!p) return undefined;
    const { payloadCodecs, payloadConverter } = rig.client.options.loadedDataConverter;
    let decoded = [p];
    for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return payloadConverter.fromPayload<string>(decoded[0]);
  }

  async function currentDetails(handle: WorkflowHandle): Promise<string> {
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    return meta.currentDetails ?? '';
  }

  /** A local activity's marker (one event where a regular activity has three). */
  function isLocalActivity(e: temporal.api.history.v1.IHistoryEvent): boolean {
    return e.markerRecordedEventAttributes?.markerName === 'core_local_activity';
  }

  /** The summaries of the history's events, by event type, with the raw payloads (to check they are encrypted). */
  async function historySummaries(handle: WorkflowHandle): Promise<{ activities: string[]; timers: string[]; raw: Payload[] }> {
    const history = await handle.fetchHistory();
    const out = { activities: [] as string[], timers: [] as string[], raw: [] as Payload[] };
    for (const e of history.events ?? []) {
      const summary = (e as temporal.api.history.v1.IHistoryEvent).userMetadata?.summary;
      if (!summary) continue;
      out.raw.push(summary as Payload);
      const text = (await decode(summary as Payload)) ?? '';
      // Activities and, since lean-scan-history, local activities (the UI shows their markers with the summary).
      if (e.activityTaskScheduledEventAttributes || isLocalActivity(e)) out.activities.push(text);
      else if (e.timerStartedEventAttributes) out.timers.push(text);
    }
    return out;
  }

  it('shows the scan, split and policy, the stage and who holds each task until when, and what each activity and timer is for — nothing identifying, encrypted at rest', async () => {
    const tag = uniqueTag();
    const bytes = dicomVariant(readFixture(NIH_CXR), tag, 1);
    const sopUid = /1\.3\.6\.1\.4\.1\.11129\.5\.5\.\d+/.exec(bytes.toString('latin1'))![0];
    const filename = `DOE_JANE_MRN-${tag}_chest.dcm`;
    const policy = policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: DEADLINE_MS });
    const input: ScanLifecycleInput = await rig.stage(bytes, { policy, filename });
    const handle = await startScan(rig.client, rig.taskQueue, input);

    // Static summary and details: set at start, read back by describe (as the UI's workflow list does).
    const desc = await handle.describe();
    expect(await desc.staticSummary()).toBe(`Scan ${input.scanId} · train · independent-3`);
    const staticDetails = (await desc.staticDetails()) ?? '';
    expect(staticDetails).toContain('independent-3 (3 readers)');
    expect(staticDetails).toContain('Reading deadline 6 s');
    // At rest the metadata is ciphertext: it goes through the payload codec like every other payload.
    const rawStart = desc.raw.executionConfig?.userMetadata;
    expect(rawStart?.summary && isEncrypted(rawStart.summary as Payload)).toBe(true);
    expect(rawStart?.details && isEncrypted(rawStart.details as Payload)).toBe(true);

    // Current details while reading: stage, what the scan waits for, each holder and their deadline.
    const reading = await waitForStatus(handle, (s) => s.stage === 'reading' && openTasks(s).length === 3);
    const first = await currentDetails(handle);
    expect(first).toContain('**Stage** reading · **waiting for** 3 of 3 readings');
    for (const t of openTasks(reading)) expect(first).toContain(`- reading ${t.slot + 1}: ${t.readerId} until ${t.dueAt}`);

    // Two readers answer; the third lets the deadline pass and is replaced.
    const [a, b, late] = [...openTasks(reading)].sort((x, y) => x.slot - y.slot);
    for (const t of [a, b]) {
      await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }] });
    }
    const afterTwo = await currentDetails(handle);
    expect(afterTwo).toContain('**waiting for** 1 of 3 readings');
    expect(afterTwo).toContain(`- reading ${a.slot + 1}: submitted by ${a.readerId}`);
    expect(afterTwo).toContain(`- reading ${late.slot + 1}: ${late.readerId} until ${late.dueAt}`);

    const replaced = await waitForStatus(handle, (s) => openTasks(s).length === 1 && openTasks(s)[0].readerId !== late.readerId, DEADLINE_MS + 30_000);
    const next = openTasks(replaced)[0];
    const afterExpiry = await currentDetails(handle);
    expect(afterExpiry).toContain(`- reading ${next.slot + 1}: ${next.readerId} until ${next.dueAt}`);
    // The late reader is named nowhere (as a whole id: another reader's id may extend it, e.g. `…-rd` and `…-rd2`).
    const names = (text: string, id: string): boolean => new RegExp(`(^|[\\s(:])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s),])`, 'm').test(text);
    expect(names(afterExpiry, next.readerId)).toBe(true);
    expect(names(afterExpiry, late.readerId)).toBe(false);

    await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: next.taskId, readerId: next.readerId, reading: simulatedReading(next.slot) }] });
    const result = await handle.result();
    expect(result.stage).toBe('released');
    const released = await currentDetails(handle).catch(() => '');
    // A closed workflow may still answer queries (the dev server replays it); when it does, it says it is done.
    if (released) expect(released).toContain('**Stage** released · **waiting for** nothing: released');

    // Activity and timer summaries in the history, as the UI's event list shows them.
    const h = await historySummaries(handle);
    expect(h.activities).toEqual(
      expect.arrayContaining([
        // One ingest activity (patch batched-scan-steps).
        'ingest: validate and de-identify (DICOM PS3.15 basic profile) the uploaded DICOM',
        'write projection: stage ingesting',
        // Back-to-back writes go as one activity (patch merged-projection-steps): one summary names every step.
        'write projection: stage deidentifying; de-identified image recorded; stage assigning',
        // Readers come from the one owner of reader capacity (issue #12), granted with the move to `reading`.
        'reserve capacity: 3 readers',
        `write projection: stage reading; assigned ${[a, b, late].map((t) => t.readerId).join(', ').replace(/, ([^,]*)$/, ' and $1')}`,
        `write projection: submitted by ${a.readerId}`,
        `reserve capacity: reader for reading ${late.slot + 1}`,
        `write projection: expired ${late.readerId}; assigned ${next.readerId}`,
        // The submission completing the readings goes with the release (patch batched-scan-steps).
        `write projection: submitted by ${next.readerId}; stage fusing; stage released`,
      ]),
    );
    // Every activity the scan scheduled has a summary.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes || isLocalActivity(e));
    expect(h.activities).toHaveLength(scheduled.length);
    expect(h.timers).toEqual(
      expect.arrayContaining([
        // Readers are whoever assignment picked (other test files add readers to the shared roster). The first
        // deadline timer names the readings still open when the scan starts waiting: all three, or two when the
        // test's first submission came in before (it answers as soon as the scan shows `reading`).
        expect.stringMatching(/^deadline of [^' ]+'s(, [^' ]+'s)? and [^' ]+'s readings$/),
      ]),
    );
    // Since lean-scan-history the deadline timer is kept while the earliest deadline stays the same (a submission no
    // longer restarts it): the late reader's deadline is the first timer's, which names it (the current details name
    // the readings still open).
    expect(h.timers.filter((x) => x.startsWith('deadline of') && x.includes(`${late.readerId}'s`)).length).toBeGreaterThanOrEqual(1);
    // The replacement's own deadline timer exists only if the workflow waited before its reading came in (the test
    // answers at once); when it does, it names the replacement.
    for (const t of h.timers.filter((x) => x.startsWith('deadline of') && !x.includes(late.readerId) && !x.includes(a.readerId))) {
      expect(t).toBe(`deadline of ${next.readerId}'s reading`);
    }
    expect(h.raw.length).toBeGreaterThan(10);
    for (const p of h.raw) expect(Buffer.from(p.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);

    // Nothing identifying anywhere in what the UI shows: not the file name (nor its parts), the staged file's key,
    // the source SOP Instance UID or any other UID of the original header.
    const shown = [await desc.staticSummary(), staticDetails, first, afterTwo, afterExpiry, released, ...h.activities, ...h.timers].join('\n');
    for (const secret of [filename, 'DOE_JANE', `MRN-${tag}`, tag, input.sourceKey, sopUid, '1.3.6.1.4.1.11129']) {
      expect(shown).not.toContain(secret);
    }
    await recordHistory(handle, 'independent-3-ui-metadata');
    await recordHistory(handle, 'independent-3-ui-metadata-lean');
  }, 120_000);
});
