import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { fixture, leakyChest } from '../../test/fixtures/dicom/corpus';
import { parseTesseractTsvPages, pixelKey, tesseractTextCheck } from './burned-in-text';

const FILM = 'cxr/dicom_00000001_000.dcm';

/** A copy of the film with one byte changed at `offset`. */
function withByte(bytes: Buffer, offset: number, value: number): Buffer {
  const out = Buffer.from(bytes);
  out[offset] = value;
  return out;
}

/** A copy with another SOP Instance UID of the same length: only the header differs. */
function headerCopy(bytes: Buffer, n: number): Buffer {
  const text = bytes.toString('latin1');
  const m = /1\.3\.6\.1\.4\.1\.11129\.5\.5\.(\d{30,})/.exec(text);
  if (!m) throw new Error('no SOP Instance UID');
  const suffix = String(n).padStart(m[1].length, '7');
  return Buffer.from(text.split(m[0]).join(m[0].slice(0, m[0].length - m[1].length) + suffix), 'latin1');
}

describe('burned-in text check: verdicts cached by what the rendering depends on', () => {
  const film = fixture(FILM);

  it('keys the pixels and their group 0028 attributes, not the rest of the header', () => {
    const key = pixelKey(film);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(pixelKey(headerCopy(film, 1))).toBe(key);
    // One pixel byte (the last byte of the file is pixel data).
    expect(pixelKey(withByte(film, film.length - 1, film[film.length - 1] ^ 0xff))).not.toBe(key);
    // MONOCHROME2 → MONOCHROME1 (group 0028, same length): the rendering is inverted, so another key.
    const photometric = film.indexOf('MONOCHROME2', 0, 'latin1');
    expect(photometric).toBeGreaterThan(0);
    expect(pixelKey(withByte(film, photometric + 10, '1'.charCodeAt(0)))).not.toBe(key);
    expect(pixelKey(Buffer.from('not dicom'))).toBeUndefined();
  });

  it('runs the OCR once for copies of one film checked at the same time, again for other pixels', async () => {
    const check = tesseractTextCheck();
    const copies = [0, 1, 2, 3].map((n) => headerCopy(film, n));
    const results = await Promise.all(copies.map((c) => check.check(c)));
    expect(check.calls()).toBe(1);
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toMatchObject({ ok: true });
    await check.check(headerCopy(film, 9));
    expect(check.calls()).toBe(1);
    // Other pixels (one value changed in the middle of the film): rendered and read again.
    const other = withByte(film, film.length - 200_000, 0);
    await check.check(other);
    expect(check.calls()).toBe(2);
  }, 60_000);
});

describe('burned-in text check: OCR in batches (one tesseract process for the films queued together)', () => {
  // Three films with a name, a birth date and an MRN burned in, three clean ones: all distinct pixels.
  const films = [1, 2, 3].map((seed) => leakyChest({ burnedIn: true, size: 256, seed })).concat([4, 5, 6].map((seed) => leakyChest({ size: 256, seed })));
  let alone: unknown[];

  beforeAll(async () => {
    const check = tesseractTextCheck({ maxBatch: 1 });
    alone = [];
    for (const f of films) alone.push(await check.check(f));
    expect(check.spawns()).toBe(films.length);
  }, 60_000);

  it('gives each film the verdict of a run of its own, with fewer processes', async () => {
    expect(alone.slice(0, 3)).toEqual([1, 2, 3].map(() => expect.objectContaining({ ok: true, verdict: expect.objectContaining({ identifying: true }) })));
    expect(alone.slice(3)).toEqual([4, 5, 6].map(() => expect.objectContaining({ ok: true, verdict: expect.objectContaining({ identifying: false }) })));
    const check = tesseractTextCheck({ concurrency: 1 });
    const together = await Promise.all(films.map((f) => check.check(f)));
    expect(together).toEqual(alone);
    expect(check.calls()).toBe(films.length);
    // The first film starts a run alone; the five that queue meanwhile go in the next one.
    expect(check.spawns()).toBe(2);
  }, 60_000);

  it('reads a batch tesseract refuses again one film at a time', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'readflow-ocr-spec-'));
    try {
      // A tesseract that refuses lists (its first argument a .txt file) and reads single images as the real one does.
      const fake = path.join(dir, 'tesseract');
      writeFileSync(fake, '#!/bin/sh\ncase "$1" in *.txt) echo "list refused" >&2; exit 3;; esac\nexec tesseract "$@"\n');
      chmodSync(fake, 0o755);
      const check = tesseractTextCheck({ tesseract: fake, concurrency: 1 });
      const together = await Promise.all(films.map((f) => check.check(f)));
      expect(together).toEqual(alone);
      // 1 alone, 1 refused list, then the 5 of that list one by one.
      expect(check.spawns()).toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("parses a list run's TSV by page and refuses words of a page not in the list", () => {
    const header = 'level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext';
    const word = (page: number, text: string): string => `5\t${page}\t1\t1\t1\t1\t0\t0\t10\t10\t91.5\t${text}`;
    const tsv = [header, word(1, 'DOE'), word(3, 'AP'), word(3, 'ERECT')].join('\n');
    expect(parseTesseractTsvPages(tsv, 3)).toEqual([[{ text: 'DOE', conf: 91.5 }], [], [{ text: 'AP', conf: 91.5 }, { text: 'ERECT', conf: 91.5 }]]);
    expect(() => parseTesseractTsvPages(tsv, 2)).toThrow(/page 3 of 2/);
  });
});
