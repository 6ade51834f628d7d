import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { parseDcmtkDictionary, renderDictionaryModule, renderTableModule } from './standard/generate';
import type { TableE11Row } from './standard/generate';

const DIR = path.join(__dirname, 'standard');
const DCMTK_DICT = '/usr/share/libdcmtk17/dicom.dic';

/** The VRs the checked-in table module uses, read back from it (the dictionary is not needed to check names and actions). */
function checkedInVrs(): Map<string, string> {
  const text = readFileSync(path.join(DIR, 'table-e1-1.generated.ts'), 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^ {2}\["([^"]+)", "([A-Z]*)"/gm)) if (m[2]) out.set(m[1], m[2]);
  return out;
}

describe('generated DICOM standard modules', () => {
  const rows = JSON.parse(readFileSync(path.join(DIR, 'ps3.15-table-e1-1.json'), 'utf8')) as TableE11Row[];

  it('the table module is exactly what the generator makes of the JSON (621 rows, version recorded)', () => {
    expect(rows).toHaveLength(621);
    const text = readFileSync(path.join(DIR, 'table-e1-1.generated.ts'), 'utf8');
    expect(text).toBe(renderTableModule(rows, checkedInVrs()));
    expect(text).toContain('PS3.15 2024b');
  });

  (existsSync(DCMTK_DICT) ? it : it.skip)('the VRs and the dictionary module match DCMTK’s dictionary', () => {
    const vrs = parseDcmtkDictionary(readFileSync(DCMTK_DICT, 'latin1'));
    expect(readFileSync(path.join(DIR, 'table-e1-1.generated.ts'), 'utf8')).toBe(renderTableModule(rows, vrs));
    expect(readFileSync(path.join(DIR, 'dictionary.generated.ts'), 'utf8')).toBe(renderDictionaryModule(vrs));
  });

  it('every single-tag row has a VR', () => {
    const vrs = checkedInVrs();
    for (const r of rows) if (/^[0-9a-f]{8}$/.test(r.id)) expect([r.id, vrs.get(r.id)]).toEqual([r.id, expect.stringMatching(/^[A-Z]{2}$/)]);
  });
});
