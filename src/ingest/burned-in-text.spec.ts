import { fixture } from '../../test/fixtures/dicom/corpus';
import { pixelKey, tesseractTextCheck } from './burned-in-text';

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
