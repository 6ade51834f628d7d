/** Transfer syntaxes ReadFlow stores and serves (pixel bytes are never re-encoded, so any of these round-trip). */
export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
} as const;

export interface TransferSyntaxInfo {
  name: string;
  explicit: boolean;
  littleEndian: boolean;
  deflated: boolean;
  encapsulated: boolean;
}

const native = (name: string, explicit: boolean, littleEndian: boolean, deflated = false): TransferSyntaxInfo => ({
  name,
  explicit,
  littleEndian,
  deflated,
  encapsulated: false,
});
const encap = (name: string): TransferSyntaxInfo => ({ name, explicit: true, littleEndian: true, deflated: false, encapsulated: true });

export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, TransferSyntaxInfo>> = {
  [TS.implicitLE]: native('Implicit VR Little Endian', false, true),
  [TS.explicitLE]: native('Explicit VR Little Endian', true, true),
  [TS.deflatedLE]: native('Deflated Explicit VR Little Endian', true, true, true),
  [TS.explicitBE]: native('Explicit VR Big Endian (retired)', true, false),
  '1.2.840.10008.1.2.4.50': encap('JPEG Baseline (Process 1)'),
  '1.2.840.10008.1.2.4.51': encap('JPEG Extended (Process 2 & 4)'),
  '1.2.840.10008.1.2.4.57': encap('JPEG Lossless (Process 14)'),
  '1.2.840.10008.1.2.4.70': encap('JPEG Lossless SV1'),
  '1.2.840.10008.1.2.4.80': encap('JPEG-LS Lossless'),
  '1.2.840.10008.1.2.4.81': encap('JPEG-LS Near-Lossless'),
  '1.2.840.10008.1.2.4.90': encap('JPEG 2000 Lossless'),
  '1.2.840.10008.1.2.4.91': encap('JPEG 2000'),
  '1.2.840.10008.1.2.4.201': encap('HTJ2K Lossless'),
  '1.2.840.10008.1.2.4.202': encap('HTJ2K Lossless RPCL'),
  '1.2.840.10008.1.2.4.203': encap('HTJ2K'),
  '1.2.840.10008.1.2.5': encap('RLE Lossless'),
};

export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return Object.prototype.hasOwnProperty.call(SUPPORTED_TRANSFER_SYNTAXES, uid) ? SUPPORTED_TRANSFER_SYNTAXES[uid] : undefined;
}
