/**
 * How every ReadFlow process reaches Temporal: the connection options (mTLS in the production shape, plain gRPC to the
 * dev server on loopback) and the data converter (the payload codec when keys are configured). The worker, the API's
 * client, the CLI, the tests and the replay tests all go through here, so none of them talks to Temporal in clear by
 * accident. See SECURITY.md.
 */
import { readFileSync } from 'node:fs';

import type { ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';

import type { SecurityConfig } from '../config/config';
import { AesGcmPayloadCodec } from './payload-codec';

/** The data converter of every client and worker: encrypted payloads when keys are configured. */
export function readflowDataConverter(security: Pick<SecurityConfig, 'payloadKeys'>): DataConverter {
  return security.payloadKeys?.length ? { payloadCodecs: [new AesGcmPayloadCodec(security.payloadKeys)] } : {};
}

/** `tls` for `Connection.connect` / `NativeConnection.connect`: mTLS from the configured files, or none. */
export function temporalTls(security: Pick<SecurityConfig, 'temporalTls'>): ConnectionOptions['tls'] {
  const t = security.temporalTls;
  if (!t) return undefined;
  return {
    clientCertPair: { crt: readFileSync(t.certFile), key: readFileSync(t.keyFile) },
    ...(t.caFile ? { serverRootCACertificate: readFileSync(t.caFile) } : {}),
    ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
  };
}

/** Connection options for the SDK's client and native (worker) connections. */
export function temporalConnectionOptions(address: string, security: Pick<SecurityConfig, 'temporalTls'>): { address: string; tls?: ConnectionOptions['tls'] } {
  const tls = temporalTls(security);
  return tls ? { address, tls } : { address };
}
