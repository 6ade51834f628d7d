/**
 * Type 1 / Type 2 requirements (PS3.3 Annex A) of the top-level attributes that Table E.1-1 gives a combined action
 * (X/Z, X/D, X/Z/D, Z/D, X/Z/U*) or that the free-text allow-list would otherwise remove, for the IODs ReadFlow
 * reads: CR, DX (and its mammography / intra-oral variants) and Secondary Capture. A listed attribute gets the
 * least disclosing value its type allows (Type 1: a dummy D; Type 2: empty Z); an attribute the IOD does not
 * require (Type 3, or not in the IOD) is removed (X). Type 1C/2C attributes are treated as 1/2 when the source has
 * them (the condition held for the source). Other SOP classes are handled conservatively (`CONSERVATIVE`).
 */

export type IodType = '1' | '2';

/** Patient, General Study, General Series, General Equipment, General Image modules (shared by all three IODs). */
const COMMON: Readonly<Record<string, IodType>> = {
  x00100010: '2', // Patient's Name
  x00100020: '2', // Patient ID (Z/D)
  x00100030: '2', // Patient's Birth Date
  x00100040: '2', // Patient's Sex
  x00080020: '2', // Study Date
  x00080030: '2', // Study Time
  x00080090: '2', // Referring Physician's Name
  x00200010: '2', // Study ID
  x00080050: '2', // Accession Number
  x00200011: '2', // Series Number
  x00080070: '2', // Manufacturer (General Equipment)
  x00200013: '2', // Instance Number
  x00200020: '2', // Patient Orientation (2C)
  x00080023: '2', // Content Date (2C)
  x00080033: '2', // Content Time (2C)
};

export interface IodRequirements {
  name: string;
  types: Readonly<Record<string, IodType>>;
}

const CR: IodRequirements = {
  name: 'Computed Radiography Image',
  types: { ...COMMON, x00180015: '2', x00185101: '2' }, // CR Series: Body Part Examined, View Position
};

const DX: IodRequirements = {
  name: 'Digital X-Ray Image',
  types: {
    ...COMMON,
    x00080023: '1', // Content Date: Type 1 in the DX Image Module
    x00080033: '1', // Content Time: Type 1 in the DX Image Module
    x00081111: '1', // Referenced Performed Procedure Step Sequence (1C, DX Series)
    x00400555: '2', // Acquisition Context Sequence (Acquisition Context Module, M)
    x00185101: '2', // View Position (DX Positioning, 3; kept as CS anyway)
  },
};

const SC: IodRequirements = {
  name: 'Secondary Capture Image',
  types: { ...COMMON },
};

/** IOD requirements by SOP Class UID. */
export const IOD_BY_SOP_CLASS: ReadonlyMap<string, IodRequirements> = new Map([
  ['1.2.840.10008.5.1.4.1.1.1', CR],
  ['1.2.840.10008.5.1.4.1.1.1.1', DX], // DX for presentation
  ['1.2.840.10008.5.1.4.1.1.1.1.1', DX], // DX for processing
  ['1.2.840.10008.5.1.4.1.1.1.2', DX], // Digital Mammography for presentation
  ['1.2.840.10008.5.1.4.1.1.1.2.1', DX],
  ['1.2.840.10008.5.1.4.1.1.1.3', DX], // Digital Intra-Oral for presentation
  ['1.2.840.10008.5.1.4.1.1.1.3.1', DX],
  ['1.2.840.10008.5.1.4.1.1.7', SC],
  ['1.2.840.10008.5.1.4.1.1.7.1', SC], // Multi-frame SC variants
  ['1.2.840.10008.5.1.4.1.1.7.2', SC],
  ['1.2.840.10008.5.1.4.1.1.7.3', SC],
  ['1.2.840.10008.5.1.4.1.1.7.4', SC],
]);

/**
 * `modelled`: the SOP class's Type 1/2 list is known (top level only). Otherwise, and inside sequences, the type is
 * unknown and the de-identification is conservative: an attribute the table allows to keep as Z or D is kept so
 * (never removed), so that no IOD the object may follow loses a required attribute.
 */
export type TypeLookup = { modelled: true; typeOf: (tag: string) => IodType | undefined } | { modelled: false };

export function iodFor(sopClassUid: string | undefined): TypeLookup {
  const iod = sopClassUid ? IOD_BY_SOP_CLASS.get(sopClassUid) : undefined;
  if (!iod) return { modelled: false };
  return { modelled: true, typeOf: (tag) => iod.types[tag] };
}
