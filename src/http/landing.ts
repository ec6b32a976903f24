function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface LandingInfo {
  version: string;
  broker: string;
  metricsPath: string;
  prefix: string;
}

/** The small page at / that exporters conventionally serve: what this is and where to look. */
export function landingPage(info: LandingInfo): string {
  const link = (path: string, text: string) => `<li><a href="${esc(info.prefix + path)}">${esc(text)}</a></li>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Celery Prometheus exporter</title></head>
<body>
<h1>Celery Prometheus exporter</h1>
<p>Version ${esc(info.version)} — broker <code>${esc(info.broker)}</code></p>
<ul>
${link(info.metricsPath, 'Metrics')}
${link('/healthz', 'Health (process alive)')}
${link('/readyz', 'Readiness (broker connected and subscribed)')}
</ul>
</body></html>
`;
}
