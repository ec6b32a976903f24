/** Prometheus text-format value: integers plainly, specials as the format spells them. */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/g;

/**
 * Label values come from events anyone on the broker can publish: control characters become
 * U+FFFD and lone surrogates (not encodable as UTF-8) are repaired, so the exposition stays
 * valid text. Runs once per series, when it is created.
 */
export function sanitiseLabelValue(v: string): string {
  const wf = v.isWellFormed() ? v : v.toWellFormed();
  CONTROL.lastIndex = 0;
  return CONTROL.test(wf) ? wf.replace(CONTROL, '\ufffd') : wf;
}
