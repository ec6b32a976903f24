/**
 * Docs pages mix prose with generated reference tables: the generated part sits between
 * `<!-- generated:<name> begin -->` and `<!-- generated:<name> end -->` and is rewritten by
 * `npm run docs:generate`; everything around it is written by hand.
 */
export function markers(name: string): { begin: string; end: string } {
  return {
    begin: `<!-- generated:${name} begin — npm run docs:generate rewrites this part; edit the source instead -->`,
    end: `<!-- generated:${name} end -->`,
  };
}

/** The page with the generated part `name` replaced by `content`. */
export function replaceGenerated(page: string, name: string, content: string): string {
  const { begin, end } = markers(name);
  const start = page.indexOf(begin);
  const stop = page.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`the page has no "${name}" markers (${begin} … ${end})`);
  return `${page.slice(0, start + begin.length)}\n\n${content.trimEnd()}\n\n${page.slice(stop)}`;
}

/** Escapes a table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
