import { Client, Connection } from '@temporalio/client';

import type { SecurityConfig } from '../config/config';
import { readflowDataConverter, temporalConnectionOptions } from './connect';

/** A Temporal client on its own connection (the API's), with the way to close it. */
export interface TemporalClientHandle {
  client: Client;
  close(): Promise<void>;
}

/**
 * Connects a Temporal client to `address` for `namespace`, with mTLS when configured and ReadFlow's payload codec
 * (readings, reasons and file names never reach Temporal in clear).
 */
export async function connectTemporalClient(opts: {
  address: string;
  namespace: string;
  security: Pick<SecurityConfig, 'temporalTls' | 'payloadKeys'>;
}): Promise<TemporalClientHandle> {
  const connection = await Connection.connect(temporalConnectionOptions(opts.address, opts.security));
  return {
    client: new Client({ connection, namespace: opts.namespace, dataConverter: readflowDataConverter(opts.security) }),
    close: () => connection.close(),
  };
}
