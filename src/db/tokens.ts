import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new bearer token: `rf_` + 32 random bytes, base64url. Shown once, stored only hashed. */
export function newToken(): string {
  return `rf_${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 hex of a token (tokens are high-entropy, so a fast hash is appropriate). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
