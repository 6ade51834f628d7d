import { Client, Connection } from '@temporalio/client';

/** A Temporal client on its own connection (the API's), with the way to close it. */
export interface TemporalClientHandle {
  client: Client;
  close(): Promise<void>;
}

/** Connects a Temporal client to `address` for `namespace`. */
export async function connectTemporalClient(opts: { address: string; namespace: string }): Promise<TemporalClientHandle> {
  const connection = await Connection.connect({ address: opts.address });
  return { client: new Client({ connection, namespace: opts.namespace }), close: () => connection.close() };
}
