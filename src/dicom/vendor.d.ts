/** jpeg-lossless-decoder-js 2.x names release/lossless.d.ts in its package.json but does not ship it. */
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    /** Decodes a JPEG lossless (process 14, SV1) stream; `numBytes` 1 or 2 bytes per output sample. */
    decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
  }
}
