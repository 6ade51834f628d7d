/**
 * `@SafeText()`: the edge check of free text (no NUL, no C0 control but tab — and line breaks for multi-line fields —,
 * no lone surrogate), with the domain's rule (src/domain/text.ts) so the API and the workflows agree. The constraint is
 * named `controlCharacter`, reported as the problem code `control-character`. Lengths stay with `@MaxLength`.
 */
import type { ValidationOptions } from 'class-validator';
import { ValidateBy } from 'class-validator';

import type { TextRule } from '../../domain/text';
import { textProblems } from '../../domain/text';

/** Refuses control characters and invalid Unicode in a string property (other types are left to `@IsString`). */
export function SafeText(opts: { multiline?: boolean } = {}, validationOptions?: ValidationOptions): PropertyDecorator {
  // Length is not this decorator's business: an unbounded rule, so only character problems come back.
  const rule: TextRule = { maxChars: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER, multiline: opts.multiline ?? false };
  return ValidateBy(
    {
      name: 'controlCharacter',
      validator: {
        validate: (value: unknown): boolean => typeof value !== 'string' || textProblems(value, '', rule).length === 0,
        defaultMessage: (args): string => {
          const value: unknown = args?.value;
          const found = typeof value === 'string' ? textProblems(value, args?.property ?? '', rule) : [];
          return found[0]?.message ?? `${args?.property ?? 'value'} contains a forbidden character`;
        },
      },
    },
    validationOptions,
  );
}
