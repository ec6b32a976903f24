/**
 * Every secret the process knows (broker passwords, management API passwords). Log lines, HTTP
 * pages and error messages pass through scrub(), so a secret that slips into a library's error
 * text is still replaced.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 1) {
    secrets.add(value);
    const enc = encodeURIComponent(value);
    if (enc !== value) secrets.add(enc);
  }
}

/**
 * Texts that already are masked and must stay as they are: the broker URL with its password
 * masked keeps its user name in logs, pages, build_info and --print-config alike, even when the
 * user name equals a secret (amqp://guest:guest@ showed as ****:**** in logs, guest:**** in
 * build_info).
 */
const safe = new Set<string>();

export function registerMasked(text: string): void {
  if (text.includes('****')) safe.add(text);
}

export function scrub(text: string): string {
  if (secrets.size === 0) return text;
  let out = text;
  const kept: string[] = [];
  for (const s of safe) {
    if (out.includes(s)) {
      out = out.split(s).join(`\u0000${kept.length}\u0000`);
      kept.push(s);
    }
  }
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('****');
  }
  for (let i = 0; i < kept.length; i++) out = out.split(`\u0000${i}\u0000`).join(kept[i]!);
  return out;
}
