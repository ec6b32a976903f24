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

export function scrub(text: string): string {
  if (secrets.size === 0) return text;
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('****');
  }
  return out;
}
