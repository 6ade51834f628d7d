import type { DataSet } from 'dicom-parser';

import { parseDicomBytes, PIXEL_DATA } from './parse';
import {
  CHEST_FILES,
  deidentifiableFiles,
  fixture,
  generatedBadInputs,
  listFixtures,
  MALFORMED_EXPECTED,
  NON_IMAGE_FILES,
  pixelDataBytes,
  syntheticChest,
  TEST_SECRET,
  VALID_BUT_REFUSED,
} from '../../test/fixtures/dicom/corpus';
import { Encoder, textValue } from './writer';
import {
  acceptanceWithViews,
  actionFor,
  DEFAULT_ACCEPTANCE,
  deidentifyDicom,
  deidentifyObject,
  deriveUid,
  imageIdFor,
  inspectDicom,
  isQuarantineReason,
  PERMISSIVE_ACCEPTANCE,
  PROFILE,
  renderPreview8,
  scanIdFor,
  validateDicom,
} from './index';
import { viewNamedBy } from './acceptance';
import { iodFor } from './iod';

const enc = new Encoder(true, true);

function str(buf: Uint8Array, tag: string): string | undefined {
  const p = parseDicomBytes(buf);
  const el = p.dataSet.elements[tag];
  if (!el) return undefined;
  return (p.dataSet.string(tag) ?? '').trim();
}

/** All tags at any depth. */
function allTags(buf: Uint8Array): string[] {
  const out: string[] = [];
  const walk = (ds: DataSet): void => {
    for (const [tag, el] of Object.entries(ds.elements)) {
      out.push(tag);
      for (const it of el.items ?? []) if (it.dataSet) walk(it.dataSet);
    }
  };
  walk(parseDicomBytes(buf).dataSet);
  return out;
}

const IDENTIFYING = ['x00100010', 'x00100020', 'x00100030', 'x00080050', 'x00080080', 'x00080090', 'x00081040', 'x00081010', 'x00101040'];

describe('ids', () => {
  it('scanIdFor: scan- + 24 hex, from the SOP Instance UID else the sha256, keyed', () => {
    const a = scanIdFor({ sopInstanceUid: '1.2.3', sha256: 'a'.repeat(64) }, TEST_SECRET);
    expect(a).toMatch(/^scan-[0-9a-f]{24}$/);
    expect(scanIdFor({ sopInstanceUid: '1.2.3', sha256: 'b'.repeat(64) }, TEST_SECRET)).toBe(a);
    expect(scanIdFor({ sha256: 'b'.repeat(64) }, TEST_SECRET)).not.toBe(scanIdFor({ sha256: 'c'.repeat(64) }, TEST_SECRET));
    expect(scanIdFor({ sopInstanceUid: '1.2.3', sha256: '' }, 'another-secret-another-secret-0000')).not.toBe(a);
  });

  it('deriveUid: consistent, keyed, valid 2.25 UIDs', () => {
    const u = deriveUid('1.2.840.113619.2.55.3', TEST_SECRET);
    expect(u).toBe(deriveUid('1.2.840.113619.2.55.3', TEST_SECRET));
    expect(u).not.toBe(deriveUid('1.2.840.113619.2.55.3', 'other-secret-other-secret-other-00'));
    expect(u).not.toBe(deriveUid('1.2.840.113619.2.55.4', TEST_SECRET));
    expect(u).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(u.length).toBeLessThanOrEqual(64);
  });

  it('imageIdFor: 32 lowercase hex', () => {
    expect(imageIdFor('2.25.1234')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('profile table (PS3.15 Table E.1-1, generated)', () => {
  it('has every row of the 2024b table, well formed', () => {
    expect(PROFILE.size).toBe(617); // 621 rows minus 50xx, 60xx (two rows) and the private-attributes rule
    for (const [tag, row] of PROFILE) {
      expect(tag).toMatch(/^x[0-9a-f]{8}$/);
      expect(row.vr).toMatch(/^[A-Z]{2}$/);
      expect(['D', 'Z', 'X', 'K', 'C', 'U', 'X/Z', 'X/D', 'Z/D', 'X/Z/D', 'X/Z/U*']).toContain(row.action);
    }
  });

  const CR = iodFor('1.2.840.10008.5.1.4.1.1.1');
  const DX = iodFor('1.2.840.10008.5.1.4.1.1.1.1');
  const OTHER = iodFor('1.2.840.10008.5.1.4.1.1.481.5');
  const a = (t: string, lookup = CR, vr?: string): string => actionFor(t, parseInt(t.slice(1, 5), 16), parseInt(t.slice(5), 16), vr, lookup).action;

  it('resolves the key attributes as the basic profile requires', () => {
    expect(a('x00100010')).toBe('Z'); // Patient's Name
    expect(a('x00100020')).toBe('Z'); // Patient ID (Z/D, Type 2)
    expect(a('x00100030')).toBe('Z'); // Birth Date
    expect(a('x00080050')).toBe('Z'); // Accession
    expect(a('x00080080')).toBe('X'); // Institution Name (X/Z/D, not in the CR IOD)
    expect(a('x00080018')).toBe('U');
    expect(a('x0020000d')).toBe('U');
    expect(a('x00100040')).toBe('K'); // kept deliberately
    expect(a('x00101010')).toBe('K'); // kept deliberately
    expect(a('x00091001')).toBe('X'); // private
    expect(a('x00090010')).toBe('X'); // private creator
    expect(a('x60003000')).toBe('X'); // overlay data
    expect(a('x50000010')).toBe('X'); // curve
    expect(a('x00280010')).toBe('K'); // Rows
    expect(a('x00281050')).toBe('K'); // Window Center
  });

  it('has the rows the hand-kept table missed', () => {
    expect(a('x0018700c')).toBe('X'); // Date of Last Detector Calibration (X/D, Type 3 in CR)
    expect(a('x0018700e')).toBe('X');
    expect(a('x00181204')).toBe('X'); // Date of Manufacture
    expect(a('x00321066')).toBe('X'); // Reason for Visit
    expect(a('x00189074')).toBe('D'); // Frame Acquisition DateTime (D)
    expect(a('x300a00b2', OTHER)).toBe('Z'); // Treatment Machine Name (X/Z): kept empty where the IOD is unknown
  });

  it('applies combined actions per IOD type', () => {
    expect(a('x00080023', CR)).toBe('Z'); // Content Date (Z/D): Type 2C in CR
    expect(a('x00080023', DX)).toBe('D'); // Type 1 in DX
    expect(a('x00080033', DX)).toBe('D');
    expect(a('x00400555', DX)).toBe('Z'); // Acquisition Context Sequence (X/Z): Type 2 in DX
    expect(a('x00400555', CR)).toBe('X');
    expect(a('x00081070', CR)).toBe('X'); // Operators' Name (X/Z/D): not required by CR
    expect(a('x00081070', OTHER)).toBe('D'); // unknown IOD: conservative, never removed
    expect(a('x00081140', OTHER)).toBe('K'); // Referenced Image Sequence (X/Z/U*): kept, UIDs inside replaced
  });

  it('keeps unlisted free text only when reviewed safe', () => {
    expect(a('x00201020', CR, 'LO')).toBe('X'); // Reference (retired, unlisted): free text
    expect(a('x00201020', CR, undefined)).toBe('X'); // implicit VR: the dictionary says LO
    expect(a('x00080104', CR, 'LO')).toBe('K'); // Code Meaning
    expect(a('x00081090', CR, 'LO')).toBe('K'); // Manufacturer's Model Name
    expect(a('x00185101', CR, 'CS')).toBe('K'); // View Position (CS)
    expect(a('x00280301', CR, 'UN')).toBe('X'); // UN-encoded: unknown bytes
    expect(a('x00081150', CR, 'UI')).toBe('U'); // unlisted UID: standard ones kept by the U handler
  });
});

describe('inspectDicom (header only)', () => {
  it.each(CHEST_FILES)('reads the SOP Instance UID of %s', (f) => {
    const r = inspectDicom(fixture(f));
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(r.sopInstanceUid).toMatch(/^[0-9.]+$/);
  });

  it('refuses non-DICOM and caps the size', () => {
    expect(inspectDicom(Buffer.from('hello'))).toMatchObject({ ok: false, reason: 'not-dicom' });
    expect(inspectDicom(fixture(CHEST_FILES[0]), { maxBytes: 1000 })).toMatchObject({ ok: false, reason: 'too-large' });
  });
});

describe('deidentifyDicom on the chest radiographs (default acceptance)', () => {
  it.each(CHEST_FILES)('%s: de-identifies, preserves pixels, leaks nothing', (f) => {
    const src = fixture(f);
    const r = deidentifyDicom(src, { secret: TEST_SECRET });
    if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
    const out = r.output;
    // Re-parses; Part 10 with zero preamble.
    expect(out.subarray(128, 132).toString('latin1')).toBe('DICM');
    expect(out.subarray(0, 128).every((b) => b === 0)).toBe(true);
    const parsed = parseDicomBytes(out);
    expect(parsed.transferSyntax).toBe(r.image.transferSyntax);
    // Pixel data bytes identical.
    expect(pixelDataBytes(out).equals(pixelDataBytes(src))).toBe(true);
    // UIDs replaced consistently, meta matches.
    const newSop = str(out, 'x00080018')!;
    expect(newSop).toBe(r.uidMap[r.sourceUids.sop]);
    expect(newSop).toMatch(/^2\.25\.\d+$/);
    expect(str(out, 'x00020003')).toBe(newSop);
    expect(str(out, 'x0020000d')).toBe(r.uidMap[r.sourceUids.study]);
    expect(str(out, 'x0020000e')).toBe(r.uidMap[r.sourceUids.series]);
    expect(r.imageId).toBe(imageIdFor(newSop));
    expect(str(out, 'x00120062')).toBe('YES');
    expect(str(out, 'x00120063')).toMatch(/Basic Application Level Confidentiality/);
    // No identifying value anywhere in the bytes.
    const text = out.toString('latin1');
    for (const tag of IDENTIFYING) {
      const v = str(src, tag);
      if (v && v.length >= 4) expect(text).not.toContain(v);
      const after = str(out, tag);
      expect(after ?? '').toBe('');
    }
    for (const uid of Object.keys(r.uidMap)) expect(text).not.toContain(uid);
    // No private tags anywhere.
    expect(allTags(out).filter((t) => parseInt(t.slice(1, 5), 16) % 2 === 1)).toEqual([]);
    // Deterministic.
    const again = deidentifyDicom(src, { secret: TEST_SECRET });
    expect(again.ok && again.output.equals(out)).toBe(true);
  });

  it('extracts the image metadata readers need', () => {
    const r = deidentifyDicom(fixture('cxr/RG1_J2KI.dcm'), { secret: TEST_SECRET });
    if (!r.ok) throw new Error(r.reason);
    expect(r.image).toMatchObject({
      rows: 1955,
      columns: 1841,
      modality: 'CR',
      viewPosition: 'PA',
      bodyPartExamined: 'CHEST',
      photometricInterpretation: 'MONOCHROME1',
      transferSyntax: '1.2.840.10008.1.2.4.91',
    });
    expect(r.image.bitsStored).toBeGreaterThan(8);
    expect(r.image.patientSex).toBeDefined();
  });

  it('different secrets give different UIDs for the same file', () => {
    const a = deidentifyDicom(fixture(CHEST_FILES[1]), { secret: TEST_SECRET });
    const b = deidentifyDicom(fixture(CHEST_FILES[1]), { secret: 'another-secret-another-secret-12345' });
    expect(a.ok && b.ok && a.imageId !== b.imageId).toBe(true);
  });
});

describe('byte-preserving writer over every encoding in the corpus', () => {
  it.each(deidentifiableFiles())('%s', (f) => {
    const src = fixture(f);
    const d = deidentifyObject(src, { secret: TEST_SECRET });
    const parsed = parseDicomBytes(d.output);
    expect(str(d.output, 'x00020003')).toBe(d.newSopInstanceUid);
    if (!NON_IMAGE_FILES.includes(f)) expect(pixelDataBytes(d.output).equals(pixelDataBytes(src))).toBe(true);
    const tags = allTags(d.output);
    expect(tags.filter((t) => parseInt(t.slice(1, 5), 16) % 2 === 1)).toEqual([]);
    expect(tags.filter((t) => /^x(50|60)[0-1][0-9a-e]/.test(t))).toEqual([]);
    expect(tags).not.toContain('x00880200'); // icon image sequence
    const text = d.output.toString('latin1');
    for (const uid of Object.keys(d.uidMap)) expect(text).not.toContain(uid);
    expect(parsed.dataSet.elements[PIXEL_DATA] !== undefined).toBe(!NON_IMAGE_FILES.includes(f));
  });

  it.each(Object.entries(VALID_BUT_REFUSED))('refuses %s with %s', (f, reason) => {
    const r = deidentifyDicom(fixture(f), { secret: TEST_SECRET, acceptance: PERMISSIVE_ACCEPTANCE });
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('writes a Part 10 file for a raw data set without preamble', () => {
    const d = deidentifyObject(fixture('malformed/ExplVR_BigEndNoMeta.dcm'), { secret: TEST_SECRET });
    expect(d.output.subarray(128, 132).toString('latin1')).toBe('DICM');
    expect(parseDicomBytes(d.output).transferSyntax).toBe('1.2.840.10008.1.2.2');
  });

  it('maps UIDs inside kept sequences consistently with the top level', () => {
    const refSeries = enc.element(
      0x0008,
      0x1115,
      'SQ',
      Buffer.concat([enc.itemHeader(0xe000, 0xffffffff), enc.element(0x0020, 0x000e, 'UI', textValue('1.2.3.4.5.6.7.8.2', 'UI')), enc.itemHeader(0xe00d, 0)]),
    );
    const d = deidentifyObject(syntheticChest([refSeries]), { secret: TEST_SECRET });
    const p = parseDicomBytes(d.output);
    const inner = p.dataSet.elements.x00081115.items![0].dataSet!;
    expect(inner.string('x0020000e')).toBe(d.uidMap['1.2.3.4.5.6.7.8.2']);
    expect(p.dataSet.string('x0020000e')).toBe(d.uidMap['1.2.3.4.5.6.7.8.2']);
  });
});

describe('quarantine reasons', () => {
  it.each(Object.entries(MALFORMED_EXPECTED))('%s → %s', (f, reason) => {
    const r = deidentifyDicom(fixture(f), { secret: TEST_SECRET });
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('covers every malformed fixture', () => {
    expect(listFixtures('malformed').sort()).toEqual(Object.keys(MALFORMED_EXPECTED).sort());
  });

  it.each(generatedBadInputs().map((g) => [g.name, g] as const))('generated %s', (_n, g) => {
    const r = deidentifyDicom(g.data, { secret: TEST_SECRET });
    if (g.reason !== undefined) expect(r).toMatchObject({ ok: false, reason: g.reason });
    if (!r.ok) expect(isQuarantineReason(r.reason)).toBe(true);
  });

  const cs = (el: number, v: string): Buffer => Buffer.from(enc.element(0x0028, el, 'CS', textValue(v, 'CS')));
  it('acceptance: not a chest radiograph, multi-frame, burned-in, missing attribute, size, transfer syntax', () => {
    const d = (b: Buffer, o = {}) => deidentifyDicom(b, { secret: TEST_SECRET, ...o });
    expect(d(fixture('valid/dx_image.dcm'))).toMatchObject({ ok: false, reason: 'not-chest-radiograph' });
    expect(d(fixture('valid/CT_small.dcm'))).toMatchObject({ ok: false, reason: 'not-chest-radiograph' });
    // Any modality with the permissive rule, but an absent BurnedInAnnotation outside CR/DX is unknown: refused.
    expect(d(fixture('valid/CT_small.dcm'), { acceptance: PERMISSIVE_ACCEPTANCE })).toMatchObject({ ok: false, reason: 'burned-in-annotation' });
    const base = syntheticChest();
    expect(d(base)).toMatchObject({ ok: true });
    const frames = syntheticChest();
    // NumberOfFrames (0028,0008) IS "2" must sit between (0028,0004) and (0028,0010): rebuild with insertion.
    const multi = Buffer.concat([
      frames.subarray(0, frames.indexOf(Buffer.from([0x28, 0x00, 0x10, 0x00]))),
      enc.element(0x0028, 0x0008, 'IS', textValue('2', 'IS')),
      frames.subarray(frames.indexOf(Buffer.from([0x28, 0x00, 0x10, 0x00]))),
    ]);
    expect(d(multi)).toMatchObject({ ok: false, reason: 'multi-frame' });
    const pix = base.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    const burned = Buffer.concat([base.subarray(0, pix), cs(0x0301, 'YES'), base.subarray(pix)]);
    expect(d(burned)).toMatchObject({ ok: false, reason: 'burned-in-annotation' });
    expect(d(burned, { acceptance: PERMISSIVE_ACCEPTANCE })).toMatchObject({ ok: false, reason: 'burned-in-annotation' });
    const view = Buffer.concat([base.subarray(0, base.indexOf(Buffer.from([0x10, 0x00, 0x10, 0x00]))), enc.element(0x0018, 0x5101, 'CS', textValue('LL', 'CS'))]);
    expect(validateDicom(view)).toMatchObject({ ok: false });
    expect(d(base, { maxBytes: 100 })).toMatchObject({ ok: false, reason: 'too-large' });
    const rows = base.indexOf(Buffer.from([0x28, 0x00, 0x10, 0x00]));
    const noRows = Buffer.concat([base.subarray(0, rows), base.subarray(rows + 10)]);
    expect(d(noRows)).toMatchObject({ ok: false, reason: 'missing-required-attribute:(0028,0010)' });
    const j2k = Buffer.from(fixture('cxr/RG1_J2KI.dcm'));
    const at = j2k.indexOf('1.2.840.10008.1.2.4.91');
    j2k.write('1.2.840.10008.1.2.4.94', at, 'latin1'); // JPIP Referenced: not supported
    expect(d(j2k)).toMatchObject({ ok: false, reason: 'unsupported-transfer-syntax' });
    expect(DEFAULT_ACCEPTANCE.modalities).toEqual(['CR', 'DX']);
  });

  it('the quarantine detail names the failing check and its value', () => {
    const base = syntheticChest();
    const at = base.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00]));
    const withEls = (...els: Uint8Array[]) => Buffer.concat([base.subarray(0, at), ...els, base.subarray(at)]);
    const cs18 = (el: number, v: string) => enc.element(0x0018, el, 'CS', textValue(v, 'CS'));
    expect(validateDicom(withEls(cs18(0x5101, 'LL')))).toMatchObject({ ok: false, reason: 'not-chest-radiograph', detail: 'view position LL is not one of PA' });
    expect(validateDicom(withEls(cs18(0x0015, 'SKULL')))).toMatchObject({
      ok: false,
      reason: 'not-chest-radiograph',
      detail: 'body part examined SKULL is not one of CHEST, THORAX',
    });
    expect(validateDicom(fixture('valid/CT_small.dcm'))).toMatchObject({ ok: false, detail: 'modality CT is not one of CR, DX' });
    // THORAX is a synonym of CHEST; absent body part and view stay accepted (the NIH films have neither).
    expect(validateDicom(withEls(cs18(0x0015, 'THORAX'), cs18(0x5101, 'PA')))).toMatchObject({ ok: true });
    // AP films: refused by default (VinDr-CXR kept PA only), accepted when the setting lists AP.
    const ap = withEls(cs18(0x0015, 'THORAX'), cs18(0x5101, 'AP'));
    expect(deidentifyDicom(ap, { secret: TEST_SECRET })).toMatchObject({ ok: false, reason: 'not-chest-radiograph', detail: 'view position AP is not one of PA' });
    expect(deidentifyDicom(ap, { secret: TEST_SECRET, acceptance: acceptanceWithViews(['PA', 'AP']) })).toMatchObject({ ok: true });
    expect(validateDicom(base)).toMatchObject({ ok: true });
    for (const f of CHEST_FILES) expect(validateDicom(fixture(f))).toMatchObject({ ok: true });
  });

  it('refuses the canine lateral thorax DX for its view, not its body part', () => {
    for (const r of [validateDicom(fixture('valid/dx_image.dcm')), deidentifyDicom(fixture('valid/dx_image.dcm'), { secret: TEST_SECRET })]) {
      expect(r).toMatchObject({
        ok: false,
        reason: 'not-chest-radiograph',
        detail:
          'view LATERAL (ViewPosition absent; AcquisitionDeviceProcessingDescription (0018,1400) is "CANINE LATERAL THORAX 0-15cm") is not one of PA',
      });
    }
    expect(validateDicom(fixture('valid/dx_image.dcm'), { acceptance: PERMISSIVE_ACCEPTANCE })).toMatchObject({ ok: true });
  });

  it('reads the view of a film without ViewPosition from View Code Sequence or the processing description', () => {
    const base = syntheticChest();
    const pix = base.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    const viewCode = (meaning: string) =>
      Buffer.concat([
        enc.header(0x0054, 0x0220, 'SQ', 0xffffffff),
        enc.itemHeader(0xe000, 0xffffffff),
        enc.element(0x0008, 0x0100, 'SH', textValue('399067008', 'SH')),
        enc.element(0x0008, 0x0104, 'LO', textValue(meaning, 'LO')),
        enc.itemHeader(0xe00d, 0),
        enc.itemHeader(0xe0dd, 0),
      ]);
    const before = (...els: Uint8Array[]) => Buffer.concat([base.subarray(0, pix), ...els, base.subarray(pix)]);
    expect(validateDicom(before(viewCode('lateral')))).toMatchObject({
      ok: false,
      detail: 'view LATERAL (ViewPosition absent; ViewCodeSequence (0054,0220) is "lateral") is not one of PA',
    });
    expect(validateDicom(before(viewCode('postero-anterior')))).toMatchObject({ ok: true });
    const at = base.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00]));
    const processing = (text: string) => Buffer.concat([base.subarray(0, at), enc.element(0x0018, 0x1400, 'LO', textValue(text, 'LO')), base.subarray(at)]);
    expect(validateDicom(processing('CHEST PA'))).toMatchObject({ ok: true });
    expect(validateDicom(processing('CHEST PA/LAT'))).toMatchObject({ ok: true }); // names both: undecided
    expect(validateDicom(processing('THORAX LAT'))).toMatchObject({ ok: false, reason: 'not-chest-radiograph' });
    expect(viewNamedBy('Postero-anterior')).toBe('PA');
    expect(viewNamedBy('CHEST RAO')).toBe('OBLIQUE');
    expect(viewNamedBy('PAEDIATRIC CHEST')).toBeUndefined();
  });

  it('a view position outside PA/AP is not a frontal chest radiograph', () => {
    const base = syntheticChest();
    const at = base.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00]));
    const lateral = Buffer.concat([base.subarray(0, at), enc.element(0x0018, 0x5101, 'CS', textValue('LL', 'CS')), base.subarray(at)]);
    expect(deidentifyDicom(lateral, { secret: TEST_SECRET })).toMatchObject({ ok: false, reason: 'not-chest-radiograph' });
    const pa = Buffer.concat([base.subarray(0, at), enc.element(0x0018, 0x5101, 'CS', textValue('PA', 'CS')), base.subarray(at)]);
    expect(deidentifyDicom(pa, { secret: TEST_SECRET })).toMatchObject({ ok: true });
  });
});

describe('renderPreview8', () => {
  it('renders an uncompressed chest radiograph', () => {
    const r = renderPreview8(fixture(CHEST_FILES[1]));
    if (!r.ok) throw new Error(r.reason);
    expect([r.width, r.height, r.pixels.length]).toEqual([1024, 1024, 1024 * 1024]);
    const distinct = new Set(r.pixels.subarray(0, 200000));
    expect(distinct.size).toBeGreaterThan(50);
  });

  it('windows by min/max and inverts MONOCHROME1', () => {
    const mono2 = renderPreview8(syntheticChest());
    expect(mono2).toMatchObject({ ok: true, width: 2, height: 2 });
    if (mono2.ok) expect(Array.from(mono2.pixels)).toEqual([0, 64, 32, 255]);
    const base = syntheticChest();
    const m1 = Buffer.from(base);
    m1.write('MONOCHROME1', m1.indexOf('MONOCHROME2'), 'latin1');
    const inv = renderPreview8(m1);
    if (inv.ok) expect(Array.from(inv.pixels)).toEqual([255, 191, 223, 0]);
  });

  it('refuses compressed transfer syntaxes', () => {
    expect(renderPreview8(fixture('cxr/RG1_J2KI.dcm'))).toMatchObject({ ok: false, reason: 'unsupported-transfer-syntax' });
  });

  it('reads big endian and implicit VR', () => {
    const be = renderPreview8(fixture('valid/MR_small_bigendian.dcm'));
    const le = renderPreview8(fixture('valid/MR_small.dcm'));
    const im = renderPreview8(fixture('valid/MR_small_implicit.dcm'));
    expect(be.ok && le.ok && im.ok).toBe(true);
    if (be.ok && le.ok && im.ok) {
      expect(Buffer.from(be.pixels).equals(Buffer.from(le.pixels))).toBe(true);
      expect(Buffer.from(im.pixels).equals(Buffer.from(le.pixels))).toBe(true);
    }
  });
});
