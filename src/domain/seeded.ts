/**
 * Small seeded hashing and pseudo-random generation, implemented here so the domain core
 * needs no Node built-in (`crypto`) and stays replay-safe inside Temporal workflows.
 */

/** 32-bit FNV-1a over the UTF-16 code units of `text`, starting from `seed` (XOR-ed into the offset basis). */
export function fnv1a32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3 32-bit finaliser: spreads every input bit over the whole output. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Well-mixed 32-bit hash of `text` under `seed` (FNV-1a followed by the murmur3 finaliser). */
export function hashString(text: string, seed = 0): number {
  return fmix32(fnv1a32(text, seed));
}

/** Mulberry32 generator: returns a function yielding floats in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded generator keyed by a string, e.g. a scan id. */
export function seededRandom(key: string): () => number {
  return mulberry32(hashString(key));
}
