import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

import { STAGE } from '../../../src/workflows/search-attributes';

const { shout } = proxyActivities<{ shout(text: string): Promise<string> }>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 2 },
});

/** A minimal workflow for the foundation test: one activity, one search attribute upsert. */
export async function probe(text: string): Promise<{ shouted: string; stage: string[] | undefined }> {
  const shouted = await shout(text);
  upsertSearchAttributes({ Stage: ['released'] });
  void STAGE;
  return { shouted, stage: workflowInfo().searchAttributes.Stage as string[] | undefined };
}
