import { PNG } from 'pngjs';

import { fixture } from '../../test/fixtures/dicom/corpus';
import { syntheticChest } from '../simulate/dicom';
import { Rng } from '../simulate/random';
import { drawTruth } from '../simulate/truth';
import { jpegPrecision } from './codecs';
import { acceptanceWithViews, DEFAULT_ACCEPTANCE, deidentifyDicom, isQuarantineReason, validateDicom } from './index';
import { decodeFirstFrame } from './pixels';
import { canDecode, outputSize, PixelError, renderImage, resizeArea } from './render';

const film = (encoding: 'explicit' | 'rle', rows = 120, columns = 96): Buffer => {
  const rng = new Rng('render-spec');
  return syntheticChest({ runId: '7', n: 1, rows, columns, modality: 'DX', encoding, truth: drawTruth(rng, rows, columns), rng }).bytes;
};

const pixelsOf = (png: Uint8Array): Buffer => PNG.sync.read(Buffer.from(png)).data;

describe('renderImage', () => {
  it('renders RLE exactly as the same pixels uncompressed (the RLE decoder)', async () => {
    const a = await renderImage(film('explicit'));
    const b = await renderImage(film('rle'));
    expect(b.transferSyntax).toBe('1.2.840.10008.1.2.5');
    expect([b.width, b.height]).toEqual([96, 120]);
    expect(pixelsOf(b.png).equals(pixelsOf(a.png))).toBe(true);
  });

  it('without a VOI window maps the pixel range to 0…255 (DICOM linear function)', async () => {
    const r = await renderImage(film('explicit'));
    expect(r.windowSource).toBe('pixel-range');
    const px = pixelsOf(r.png);
    let min = 255;
    let max = 0;
    for (let i = 0; i < px.length; i += 4) {
      min = Math.min(min, px[i]);
      max = Math.max(max, px[i]);
    }
    expect([min, max]).toEqual([0, 255]);
  });

  it('a window narrower than the image saturates; the request overrides the file', async () => {
    const f = await decodeFirstFrame(film('explicit'));
    expect(f.bits).toBe(12);
    const r = await renderImage(film('explicit'), { window: 2, level: 5000 });
    expect(r.windowSource).toBe('request');
    expect(new Set(Array.from(pixelsOf(r.png).filter((_, i) => i % 4 === 0)))).toEqual(new Set([0]));
  });

  it('refuses an image above maxPixels, and names an unsupported transfer syntax', async () => {
    await expect(renderImage(film('explicit'), { maxPixels: 1000 })).rejects.toMatchObject({ reason: 'image-too-large' });
    const bytes = Buffer.from(fixture('valid/HTJ2K_08_RGB.dcm'));
    bytes.write('1.2.840.10008.1.2.4.110', bytes.indexOf('1.2.840.10008.1.2.4.203'), 'latin1');
    const e = await renderImage(bytes).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PixelError);
    expect(e).toMatchObject({ reason: 'unsupported-transfer-syntax', transferSyntax: '1.2.840.10008.1.2.4.110' });
    expect(canDecode('1.2.840.10008.1.2.4.110')).toBe(false);
    expect(canDecode('1.2.840.10008.1.2.4.201')).toBe(true);
  });

  it('downscales to size on the longer side, never enlarges', () => {
    expect(outputSize(1841, 1955, 512)).toEqual({ width: 482, height: 512 });
    expect(outputSize(64, 64, 1024)).toEqual({ width: 64, height: 64 });
    // Area average: a 4×2 image halved gives the mean of each 2×2 block.
    const out = resizeArea(Uint8Array.from([0, 100, 200, 255, 0, 100, 200, 255]), 4, 2, 1, 2, 1);
    expect(Array.from(out)).toEqual([50, 228]);
  });

  it('reads the sample precision of a JPEG frame header', () => {
    expect(jpegPrecision(Uint8Array.from([0xff, 0xd8, 0xff, 0xc1, 0x00, 0x0b, 12, 0, 1, 0, 1]))).toBe(12);
    expect(jpegPrecision(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0, 0, 0xff, 0xc0, 0x00, 0x0b, 8]))).toBe(8);
  });
});

describe('the pixel cap at acceptance', () => {
  it('refuses (image-too-large) an image of more Rows × Columns than the rule allows, at validation and de-identification', () => {
    const big = film('explicit', 120, 96); // 11,520 pixels
    const rule = acceptanceWithViews(['PA'], 10_000);
    const v = validateDicom(big, { acceptance: rule });
    expect(v).toEqual({ ok: false, reason: 'image-too-large', detail: 'the image is 96 × 120 = 11520 pixels, more than the cap of 10000' });
    expect(deidentifyDicom(big, { secret: 'x'.repeat(32), acceptance: rule })).toMatchObject({ ok: false, reason: 'image-too-large' });
    expect(isQuarantineReason('image-too-large')).toBe(true);
    expect(validateDicom(big, { acceptance: acceptanceWithViews(['PA'], 11_520) })).toMatchObject({ ok: true });
    expect(DEFAULT_ACCEPTANCE.maxPixels).toBe(25_000_000);
  });
});
