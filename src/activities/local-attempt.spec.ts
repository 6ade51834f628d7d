import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

import { localAttemptsAnswer } from './local-attempt';

describe('local attempts answer instead of failing', () => {
  const activities = {
    async ok(x: number): Promise<number> {
      return x + 1;
    },
    async down(): Promise<number> {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    },
    async stuck(): Promise<number> {
      return new Promise(() => undefined);
    },
    async refused(): Promise<number> {
      throw ApplicationFailure.nonRetryable('Postgres refused the data', 'ProjectionDataError');
    },
  };
  const wrapped = localAttemptsAnswer(activities, 50);

  it('run locally: a result as it is, an outage or a stuck database as `localNotWritten`, a refusal still thrown', async () => {
    const env = new MockActivityEnvironment({ isLocal: true });
    expect(await env.run(wrapped.ok, 1)).toBe(2);
    expect(await env.run(wrapped.down)).toEqual({ localNotWritten: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(await env.run(wrapped.stuck)).toEqual({ localNotWritten: 'no answer within 50 ms' });
    await expect(env.run(wrapped.refused)).rejects.toThrow('Postgres refused the data');
  });

  it('run as a regular activity: failures are thrown, for the server to retry', async () => {
    const env = new MockActivityEnvironment({ isLocal: false });
    expect(await env.run(wrapped.ok, 1)).toBe(2);
    await expect(env.run(wrapped.down)).rejects.toThrow('ECONNREFUSED');
  });
});
