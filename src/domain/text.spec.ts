import { NAME_TEXT, NOTE_TEXT, codePointLength, isAcceptableText, textProblems, utf8Length, validateReading, VINDR_CXR_TAXONOMY as TAXONOMY } from './index';

const codes = (v: unknown, rule = NOTE_TEXT): string[] => textProblems(v, 'f', rule).map((p) => p.code);

describe('text rules', () => {
  it('refuses NUL and other C0 controls, and DEL', () => {
    expect(codes('a\u0000b')).toEqual(['control-character']);
    expect(codes('a\u0001b')).toEqual(['control-character']);
    expect(codes('a\u001bb')).toEqual(['control-character']);
    expect(codes('a\u007fb')).toEqual(['control-character']);
    expect(textProblems('ab\u0000', 'comment', NOTE_TEXT)[0].message).toContain('U+0000 at index 2');
  });
  it('allows tab everywhere and line breaks only in multi-line fields', () => {
    expect(codes('a\tb\nc\r\nd')).toEqual([]);
    expect(codes('a\tb', NAME_TEXT)).toEqual([]);
    expect(codes('a\nb', NAME_TEXT)).toEqual(['control-character']);
  });
  it('refuses lone surrogates but counts astral characters once', () => {
    expect(codes('a\ud800b')).toEqual(['invalid-text']);
    expect(codes('\udc00')).toEqual(['invalid-text']);
    expect(codes('😀')).toEqual([]);
    expect(codePointLength('a😀')).toBe(2);
    expect(utf8Length('a😀é')).toBe(1 + 4 + 2);
    expect(utf8Length('a😀é')).toBe(Buffer.byteLength('a😀é'));
  });
  it('bounds characters and bytes', () => {
    expect(codes('x'.repeat(200), NAME_TEXT)).toEqual([]);
    expect(codes('x'.repeat(201), NAME_TEXT)).toEqual(['too-long']);
    expect(codes('😀'.repeat(200), { maxChars: 200, maxBytes: 700 })).toEqual(['too-long']);
    expect(codes('x'.repeat(5), { maxChars: 4, tooLongCode: 'comment-too-long' })).toEqual(['comment-too-long']);
    expect(isAcceptableText('Dr. Ann', NAME_TEXT)).toBe(true);
    expect(isAcceptableText(5, NAME_TEXT)).toBe(false);
  });
  it('is used by reading validation for comments', () => {
    const r = validateReading({ boxes: [], globalLabels: ['No finding'], comment: 'a\u0000b' }, { taxonomy: TAXONOMY, image: { rows: 10, columns: 10 } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => `${p.path}:${p.code}`)).toEqual(['comment:control-character']);
  });
});
