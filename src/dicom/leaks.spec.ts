/**
 * The identity leaks found by the de-identification audit (issue 11), on one generated chest CR that carries them all.
 */
import { parseDicomBytes } from './parse';
import { Encoder, textValue } from './writer';
import { deflateBomb, fixture, LEAKY_VALUES, leakyChest, syntheticChestImage, TEST_SECRET } from '../../test/fixtures/dicom/corpus';
import { chestLikePixels } from '../../test/fixtures/dicom/text-image';
import { checkDeflatedSize, deidentifyDicom, inflateLimit, inspectDicom, isQuarantineReason, PERMISSIVE_ACCEPTANCE, validateDicom } from './index';

const enc = new Encoder(true, true);
const implicitEnc = new Encoder(false, true);

function headerText(out: Buffer): string {
  const p = parseDicomBytes(out);
  const pixel = p.dataSet.elements.x7fe00010;
  return Buffer.from(p.bytes.subarray(0, pixel ? pixel.dataOffset : p.bytes.length)).toString('latin1');
}

describe('identity leaks of the audit', () => {
  const src = leakyChest();
  const r = deidentifyDicom(src, { secret: TEST_SECRET });
  if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
  const text = headerText(r.output);
  const p = parseDicomBytes(r.output);

  it('removes unlisted free text: (0020,1020) Reference', () => {
    expect(p.dataSet.elements.x00201020).toBeUndefined();
    expect(r.report.removedFreeText).toContain('(0020,1020)');
  });

  it('applies the rows the old table lacked: (0018,700C), (0032,1066)', () => {
    expect(p.dataSet.elements.x0018700c).toBeUndefined();
    expect(p.dataSet.elements.x00321066).toBeUndefined();
  });

  it('never copies a UN-encoded sequence of defined length', () => {
    expect(p.dataSet.elements.x00081115).toBeUndefined(); // (0008,1115) in the table: X
    // An unlisted sequence (View Code Sequence, kept when readable) sent as UN: removed, never copied.
    const item = Buffer.concat([implicitEnc.element(0x0008, 0x0104, 'LO', textValue('Doe^John', 'LO'))]);
    const un = Buffer.concat([implicitEnc.itemHeader(0xe000, item.length), item]);
    const d = deidentifyDicom(syntheticChestImage(chestLikePixels(16, 16), 16, 16, [enc.element(0x0054, 0x0220, 'UN', un)]), { secret: TEST_SECRET });
    if (!d.ok) throw new Error(d.detail);
    expect(parseDicomBytes(d.output).dataSet.elements.x00540220).toBeUndefined();
    expect(d.report.removedUnknownVr).toContain('(0054,0220)');
    expect(headerText(d.output)).not.toContain('Doe');
  });

  it.each(LEAKY_VALUES)('no trace of %s anywhere in the header', (v) => {
    expect(text.toLowerCase()).not.toContain(v.toLowerCase());
  });

  it('an absent BurnedInAnnotation is unknown: refused unless the modality is CR/DX (those get the OCR check at ingest)', () => {
    const us = syntheticChestImage(chestLikePixels(64, 64), 64, 64, [], { modality: 'US', sopClass: '1.2.840.10008.5.1.4.1.1.6.1' });
    expect(deidentifyDicom(us, { secret: TEST_SECRET, acceptance: PERMISSIVE_ACCEPTANCE })).toMatchObject({ ok: false, reason: 'burned-in-annotation' });
  });
});

describe('deflate bomb (issue 10 item 3)', () => {
  const bomb = deflateBomb(4096); // 16 MiB of pixels in ~17 KB

  it('is read at upload from its file meta only: no inflation, even with a cap far below its inflated size', () => {
    expect(bomb.length).toBeLessThan(100_000);
    expect(inspectDicom(bomb, { maxBytes: 1 << 20 })).toEqual({ ok: true, sopInstanceUid: '1.2.3.4.5.6.7.8.66', transferSyntax: '1.2.840.10008.1.2.1.99' });
  });

  it('is refused by the streaming check and by the parser (decompression-limit), before its data set is held', async () => {
    const refusal = await checkDeflatedSize(bomb, { maxBytes: 64 << 20 });
    expect(refusal).toMatchObject({ reason: 'decompression-limit' });
    expect(validateDicom(bomb, { maxBytes: 64 << 20 })).toMatchObject({ ok: false, reason: 'decompression-limit' });
    expect(deidentifyDicom(bomb, { secret: TEST_SECRET, maxBytes: 64 << 20 })).toMatchObject({ ok: false, reason: 'decompression-limit' });
    expect(isQuarantineReason('decompression-limit')).toBe(true);
  });

  it('a real deflated file stays within the limits', async () => {
    expect(await checkDeflatedSize(fixture('valid/image_dfl.dcm'))).toBeUndefined();
    expect(inflateLimit(1000)).toBe(8 << 20);
    expect(inflateLimit(1 << 20, { maxInflateRatio: 10 })).toBe(10 << 20);
  });
});
