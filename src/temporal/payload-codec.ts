/**
 * The payload codec: every workflow and activity payload (inputs, results, update arguments, query answers, memo,
 * heartbeat details) leaves ReadFlow encrypted with AES-256-GCM, so the Temporal server, its database and its UI never
 * hold readings, reasons or file names in clear. Search attributes are not payloads of this kind and stay readable
 * (operators filter on them; they hold only ids, stages and flags).
 *
 * Wire format of an encrypted payload:
 * - metadata `encoding` = `binary/encrypted`, `encryption-cipher` = `AES256GCM`, `encryption-key-id` = the key's id;
 * - data = 12-byte IV ‖ ciphertext ‖ 16-byte tag, where the plaintext is the original `Payload` protobuf-encoded and
 *   the key id is bound as additional authenticated data (a payload relabelled with another key id does not decrypt).
 *
 * Keys: `id:base64` pairs (32 bytes each); the first encrypts, all decrypt, so a new key is rotated in by putting it first
 * and old histories stay readable as long as their key is listed. A payload without the `binary/encrypted` encoding is
 * passed through: histories written before encryption was turned on still replay and still show in the UI.
 *
 * Imported by workers, clients, tests and the API's codec endpoint; never by workflow code (it runs in the worker's
 * main thread, outside the workflow sandbox).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import type { Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const CIPHER = 'AES256GCM';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CIPHER = 'encryption-cipher';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One named AES-256 key. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/**
 * Parses `id:base64[,id:base64…]` (the first is the active key). Throws with a message naming the bad entry — but never
 * echoing key material.
 */
export function parsePayloadKeys(text: string): PayloadKey[] {
  const keys: PayloadKey[] = [];
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) throw new Error('no key: expected id:base64[,id:base64…]');
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1}: the key id must be 1–64 characters of A-Z a-z 0-9 . _ - before a colon`);
    const b64 = entry.slice(colon + 1);
    const key = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== KEY_BYTES) {
      throw new Error(`key "${id}": must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
    }
    if (keys.some((k) => k.id === id)) throw new Error(`key "${id}" is listed twice`);
    keys.push({ id, key });
  });
  return keys;
}

/** A new random key as `id:base64` (for `npm run keys`-style tooling and dev defaults). */
export function newPayloadKey(id: string): string {
  if (!KEY_ID.test(id)) throw new Error(`invalid key id "${id}"`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string | undefined => (b ? Buffer.from(b).toString('utf8') : undefined);

/** True when `p` is a payload this codec encrypted. */
export function isEncrypted(p: Payload): boolean {
  return text(p.metadata?.encoding) === ENCRYPTED_ENCODING;
}

/** AES-256-GCM payload codec with key rotation (see the file header). */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly active: PayloadKey;
  private readonly byId: Map<string, Buffer>;

  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new Error('AesGcmPayloadCodec needs at least one key');
    for (const k of keys) {
      if (k.key.length !== KEY_BYTES) throw new Error(`key "${k.id}" is not ${KEY_BYTES} bytes`);
    }
    this.active = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Id of the key new payloads are encrypted with. */
  get activeKeyId(): string {
    return this.active.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? p : this.encrypt(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? this.decrypt(p) : p));
  }

  private encrypt(p: Payload): Payload {
    const plain = temporal.api.common.v1.Payload.encode(p).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
    cipher.setAAD(utf8(this.active.id));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: {
        encoding: utf8(ENCRYPTED_ENCODING),
        [METADATA_CIPHER]: utf8(CIPHER),
        [METADATA_KEY_ID]: utf8(this.active.id),
      },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private decrypt(p: Payload): Payload {
    const keyId = text(p.metadata?.[METADATA_KEY_ID]);
    const cipherName = text(p.metadata?.[METADATA_CIPHER]) ?? CIPHER;
    if (cipherName !== CIPHER) throw new ValueError(`encrypted payload uses an unknown cipher "${cipherName}"`);
    const key = keyId === undefined ? undefined : this.byId.get(keyId);
    if (!keyId || !key) {
      throw new ValueError(`encrypted payload needs key "${keyId ?? '?'}", which is not configured (READFLOW_PAYLOAD_KEYS)`);
    }
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(utf8(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new ValueError(`encrypted payload (key "${keyId}") failed authentication: corrupted or tampered`);
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}
