import { defaultPayloadConverter } from '@temporalio/common';

import { loadConfig } from '../config/config';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID, newPayloadKey, parsePayloadKeys } from './payload-codec';

const k = (id: string, fill: number): string => `${id}:${Buffer.alloc(32, fill).toString('base64')}`;
const text = (b?: Uint8Array | null): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  const reading = { comment: 'right apex nodule', globalLabels: ['Pneumonia'], file: 'PATIENT_DOE.dcm' };
  const plain = defaultPayloadConverter.toPayload(reading);

  it('encrypts with the active key, names it in the metadata, and decrypts back', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(k('k2', 2)));
    const [enc] = await codec.encode([plain]);
    expect(text(enc.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(enc.metadata?.[METADATA_KEY_ID])).toBe('k2');
    const bytes = Buffer.from(enc.data as Uint8Array);
    for (const clear of ['nodule', 'Pneumonia', 'PATIENT_DOE', 'json/plain']) expect(bytes.includes(clear)).toBe(false);
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual(reading);
    // A fresh IV each time: the same value never encrypts the same way twice.
    const [again] = await codec.encode([plain]);
    expect(Buffer.from(again.data as Uint8Array).equals(bytes)).toBe(false);
  });

  it('rotates: a new active key encrypts, the old one still decrypts old payloads', async () => {
    const [old] = await new AesGcmPayloadCodec(parsePayloadKeys(k('k1', 1))).encode([plain]);
    const rotated = new AesGcmPayloadCodec(parsePayloadKeys(`${k('k2', 2)},${k('k1', 1)}`));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0])).toEqual(reading);
    const [fresh] = await rotated.encode([plain]);
    expect(text(fresh.metadata?.[METADATA_KEY_ID])).toBe('k2');
    // Dropping a key that still protects data is loud, not silent.
    await expect(new AesGcmPayloadCodec(parsePayloadKeys(k('k2', 2))).decode([old])).rejects.toThrow(/key "k1".*not configured/);
  });

  it('passes plain payloads through (histories from before encryption still replay) and never double-encrypts', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(k('k1', 1)));
    expect(await codec.decode([plain])).toEqual([plain]);
    const [enc] = await codec.encode([plain]);
    expect(await codec.encode([enc])).toEqual([enc]);
  });

  it('detects tampering with the data or the key id', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(`${k('k1', 1)},${k('k2', 1)}`));
    const [enc] = await codec.encode([plain]);
    const flipped = Buffer.from(enc.data as Uint8Array);
    flipped[20] ^= 1;
    await expect(codec.decode([{ ...enc, data: flipped }])).rejects.toThrow(/failed authentication/);
    // Same key bytes under another id: the id is authenticated data, so relabelling fails too.
    const relabelled = { ...enc, metadata: { ...enc.metadata, [METADATA_KEY_ID]: Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);
  });

  it('parses READFLOW_PAYLOAD_KEYS strictly, without echoing key material', () => {
    expect(parsePayloadKeys(`${k('a', 1)}, ${k('b', 2)}`).map((x) => x.id)).toEqual(['a', 'b']);
    expect(() => parsePayloadKeys('')).toThrow(/no key/);
    expect(() => parsePayloadKeys('nokey')).toThrow(/key id/);
    expect(() => parsePayloadKeys(`a:${Buffer.alloc(16).toString('base64')}`)).toThrow(/32 bytes/);
    expect(() => parsePayloadKeys(`${k('a', 1)},${k('a', 2)}`)).toThrow(/twice/);
    expect(() => parsePayloadKeys('a:c2VjcmV0LXNlY3JldA==')).not.toThrow(/c2VjcmV0/);
    expect(parsePayloadKeys(newPayloadKey('n1'))[0].key).toHaveLength(32);
  });

  it('is required in production and validated at boot', () => {
    const prod = { NODE_ENV: 'production', DATABASE_URL: 'postgres://x@h/db', READFLOW_DEID_SECRET: 'x'.repeat(40) };
    expect(() => loadConfig(prod)).toThrow(/READFLOW_PAYLOAD_KEYS: required in production/);
    expect(loadConfig({ ...prod, READFLOW_PAYLOAD_KEYS: k('p1', 3) }).security.payloadKeys?.[0].id).toBe('p1');
    expect(() => loadConfig({ READFLOW_PAYLOAD_KEYS: 'p1:short' })).toThrow(/READFLOW_PAYLOAD_KEYS: key "p1"/);
    expect(() => loadConfig({ TEMPORAL_TLS_CERT: '/x.pem' })).toThrow(/TEMPORAL_TLS_KEY go together/);
  });
});
