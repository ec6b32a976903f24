/**
 * JSON.parse that also accepts the bare NaN / Infinity / -Infinity tokens Python's json module
 * writes. The rewrite only runs when a plain parse fails, so well-formed input pays nothing.
 */
export function parseJsonTolerant(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    return JSON.parse(replaceNonFinite(text));
  }
}

/** Replaces NaN/Infinity tokens outside string literals with null. */
function replaceNonFinite(text: string): string {
  let out = '';
  let i = 0;
  let last = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      i++;
      continue;
    }
    let len = 0;
    if (text.startsWith('NaN', i)) len = 3;
    else if (text.startsWith('-Infinity', i)) len = 9;
    else if (text.startsWith('Infinity', i)) len = 8;
    if (len > 0) {
      out += text.slice(last, i) + 'null';
      i += len;
      last = i;
      continue;
    }
    i++;
  }
  return out + text.slice(last);
}
