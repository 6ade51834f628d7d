import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { validateDicom } from '../dicom';
import { syntheticChest } from './dicom';
import { Rng } from './random';
import { drawTruth } from './truth';

describe('synthetic chest radiographs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'readflow-simdicom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['explicit', 'rle'] as const)('%s: accepted by ReadFlow, identifying tags present, pixels decode to the native image (dcmtk)', (encoding) => {
    const make = (enc: 'explicit' | 'rle'): Buffer => {
      const rng = new Rng(11);
      return syntheticChest({ runId: '42', n: 3, rows: 96, columns: 80, modality: 'DX', encoding: enc, truth: drawTruth(rng, 96, 80), rng }).bytes;
    };
    const bytes = make(encoding);
    const v = validateDicom(bytes);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.summary.modality).toBe('DX');
    expect(v.summary.image?.rows).toBe(96);
    expect(v.summary.image?.columns).toBe(80);
    const file = path.join(dir, `${encoding}.dcm`);
    writeFileSync(file, bytes);
    const dump = execFileSync('dcmdump', ['+P', '0010,0010', '+P', '0010,0030', file], { encoding: 'utf8' });
    expect(dump).toMatch(/\(0010,0010\) PN \[[A-Z][a-z]+\^[A-Z][a-z]+\]/);
    if (encoding === 'rle') {
      // dcmtk's RLE decoder must give back exactly the pixels of the native encoding of the same image.
      const decoded = path.join(dir, 'decoded.dcm');
      execFileSync('dcmdrle', [file, decoded]);
      const nativeFile = path.join(dir, 'native.dcm');
      writeFileSync(nativeFile, make('explicit'));
      const a = execFileSync('dcmdump', ['+P', '7fe0,0010', '+L', '+sd', decoded], { encoding: 'utf8' });
      const b = execFileSync('dcmdump', ['+P', '7fe0,0010', '+L', '+sd', nativeFile], { encoding: 'utf8' });
      expect(a.replace(/#.*$/gm, '').trim()).toBe(b.replace(/#.*$/gm, '').trim());
    }
  });
});
