import { ownCopy } from '../util/own-copy.js';

/**
 * Extracts the exception class name from a task-failed event.
 *
 * `exception` is a Python repr such as `ValueError('kaboom')` or `module.Error(...)`; some
 * Celery/Python combinations report a wrapper (`ExceptionWithTraceback(...)`), and then the
 * last line of the traceback (`ValueError: kaboom`) names the real class.
 */
const WRAPPERS = new Set(['ExceptionWithTraceback', 'ExceptionInfo', 'RemoteTraceback']);
const MAX_LEN = 100;

export function exceptionClass(exception: unknown, traceback: unknown): string {
  const fromRepr = typeof exception === 'string' ? classFromRepr(exception) : undefined;
  if (fromRepr !== undefined && !WRAPPERS.has(fromRepr)) return fromRepr;
  const fromTb = typeof traceback === 'string' ? classFromTraceback(traceback) : undefined;
  return fromTb ?? fromRepr ?? 'UnknownException';
}

function classFromRepr(repr: string): string | undefined {
  let i = 0;
  const n = Math.min(repr.length, MAX_LEN + 1);
  while (i < n && isNameChar(repr.charCodeAt(i))) i++;
  if (i === 0 || i > MAX_LEN) return undefined;
  if (i < repr.length && repr.charCodeAt(i) !== 40 /* ( */) return undefined;
  return lastDotted(repr.slice(0, i));
}

function classFromTraceback(tb: string): string | undefined {
  const lines = tb.trimEnd().split('\n');
  for (let k = lines.length - 1; k >= 0 && k >= lines.length - 5; k--) {
    const line = lines[k]!.trim();
    if (line === '') continue;
    const m = /^([A-Za-z_][\w.]*)(?::|$)/.exec(line);
    if (m && m[1]!.length <= MAX_LEN) return lastDotted(m[1]!);
    return undefined;
  }
  return undefined;
}

/** A copy (ownCopy): the class name is kept as a label value, and a slice would pin the whole repr or traceback. */
function lastDotted(s: string): string {
  const dot = s.lastIndexOf('.');
  return ownCopy(dot >= 0 ? s.slice(dot + 1) : s);
}

function isNameChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46;
}
