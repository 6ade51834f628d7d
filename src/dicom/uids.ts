import { createHash, createHmac } from 'node:crypto';

/**
 * Consistent UID replacement: `2.25.<decimal of a 128-bit value>` where the value is the first 128 bits of
 * HMAC-SHA256(secret, "uid\0" + sourceUid) with the UUID version (8, custom) and variant bits set, so the result is
 * a valid UUID-derived UID (PS3.5 B.2). Same source UID + same secret → same new UID; irreversible without the key.
 */
export function deriveUid(sourceUid: string, secret: string): string {
  const h = createHmac('sha256', secret).update('uid\0').update(sourceUid).digest();
  h[6] = (h[6] & 0x0f) | 0x80; // version 8
  h[8] = (h[8] & 0x3f) | 0x80; // RFC 4122 variant
  return `2.25.${BigInt('0x' + h.subarray(0, 16).toString('hex')).toString(10)}`;
}

/** `scan-` + 24 lowercase hex of HMAC-SHA256(secret, SOP Instance UID, else the file's SHA-256 hex). */
export function scanIdFor(input: { sopInstanceUid?: string; sha256: string }, secret: string): string {
  const basis = input.sopInstanceUid && input.sopInstanceUid.length > 0 ? input.sopInstanceUid : input.sha256;
  return 'scan-' + createHmac('sha256', secret).update(basis).digest('hex').slice(0, 24);
}

/**
 * Pseudonymous image id: 32 lowercase hex characters derived from the NEW (already keyed) SOP Instance UID, like the
 * VinDr-CXR release's image_id (a 128-bit hash of the SOP Instance UID). SHA-256 truncated to 128 bits.
 */
export function imageIdFor(newSopInstanceUid: string): string {
  return createHash('sha256').update(newSopInstanceUid).digest('hex').slice(0, 32);
}

/** A keyed hash of a source SOP Instance UID that can be logged/stored outside the restricted area. */
export function sopInstanceUidHash(sopInstanceUid: string, secret: string): string {
  return createHmac('sha256', secret).update('sop-hash\0').update(sopInstanceUid).digest('hex');
}
