import { ValidationError, ValidationPipe } from '@nestjs/common';

import { FieldProblem, ValidationFailedError } from '../errors';

const CODES: Record<string, string> = {
  whitelistValidation: 'unknown-field',
  isDefined: 'required',
  isNotEmpty: 'required',
  isString: 'invalid-type',
  isNumber: 'invalid-type',
  isInt: 'invalid-type',
  isBoolean: 'invalid-type',
  isBooleanString: 'invalid-type',
  isArray: 'invalid-type',
  isObject: 'invalid-type',
  nestedValidation: 'invalid-type',
  isIn: 'invalid-value',
  isEnum: 'invalid-value',
  isIso8601: 'invalid-format',
  isDateString: 'invalid-format',
  arrayNotEmpty: 'too-few',
  isUUID: 'invalid-format',
  matches: 'invalid-format',
  min: 'out-of-range',
  max: 'out-of-range',
  maxLength: 'too-long',
  minLength: 'too-short',
  arrayMaxSize: 'too-many',
  arrayMinSize: 'too-few',
};

function joinPath(base: string, key: string): string {
  if (/^\d+$/.test(key)) return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Constraints about a value's type: when one fails, the others (ranges, sizes, formats) only add noise. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isNumber', 'isInt', 'isBoolean', 'isBooleanString', 'isArray', 'isObject', 'isIso8601', 'isDateString']);

/** Flattens class-validator errors into `{ path, code, message }` with domain-style paths (`boxes[2].x_max`). */
export function flattenValidationErrors(errors: ValidationError[], base = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const path = joinPath(base, e.property);
    const constraints = Object.keys(e.constraints ?? {});
    if (e.value === undefined && constraints.length > 0 && !constraints.includes('whitelistValidation')) {
      out.push({ path, code: 'required', message: `${e.property} is required` });
      continue;
    }
    // `limit=abc` is "not an integer", not also "greater than 200" and "less than 1".
    const typeFailures = Object.entries(e.constraints ?? {}).filter(([c]) => TYPE_CONSTRAINTS.has(c));
    for (const [constraint, message] of typeFailures.length > 0 ? typeFailures : Object.entries(e.constraints ?? {})) {
      out.push({ path, code: CODES[constraint] ?? kebab(constraint), message: message.replace(/^property /, '') });
    }
    if (e.children?.length) out.push(...flattenValidationErrors(e.children, path));
  }
  return out;
}

/** The global pipe: DTOs validated at the edge, unknown fields refused, every problem reported as a 422. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => new ValidationFailedError(flattenValidationErrors(errors)),
  });
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
