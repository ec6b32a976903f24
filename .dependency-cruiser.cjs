/**
 * The import rules of src/ (docs/architecture.md, "Layers"), checked by
 * test/unit/architecture.test.ts, so by `npm test` and `npm run test:unit`.
 * Alone: `npx depcruise src --config .dependency-cruiser.cjs`.
 *
 * A layer may import its own layer and the layers below it, never one above. Each layer
 * below has one rule: "<layer> imports only <what it may import>".
 */

/** Path patterns of the layers, lowest first. */
const layer = {
  base: ['^src/config/', '^src/log\\.ts$', '^src/util/', '^src/version\\.ts$'],
  events: ['^src/events/'],
  metrics: ['^src/metrics/'],
  decoder: ['^src/decoder/'],
  state: ['^src/state/'],
  pipeline: ['^src/pipeline\\.ts$'],
  http: ['^src/http/'],
  collectors: ['^src/pollers/', '^src/remote/', '^src/broker/'],
  continuity: ['^src/continuity/'],
  wiring: ['^src/app/', '^src/daemon\\.ts$', '^src/cli\\.ts$', '^src/cli/'],
};

/** A rule forbidding `from` to import any file of src/ outside `allowed`. */
function onlyImports(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: '^src/', pathNot: allowed },
  };
}

/** A rule forbidding `from` to import `to` (a finer cut inside the layer matrix). */
function neverImports(name, from, to, comment) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: to } };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle between files: a cycle makes load order matter and the layers meaningless.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'No import cycle between folders (e.g. broker/ -> remote/ -> broker/).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },

    // 0 base: configuration, logging, utilities, version. Imports nothing above it.
    onlyImports('layer-0-base', layer.base, layer.base,
      'config/, log.ts, util/ and version.ts import only each other.'),
    neverImports('layer-0-config-not-log', '^src/config/', '^src/log\\.ts$',
      'config/ parses and validates; it reports by its errors, it does not log.'),

    // 1 events: the event vocabulary (event type lists, raw event shape, invalid reasons).
    onlyImports('layer-1-events', layer.events, [...layer.base, ...layer.events],
      'events/ imports only base.'),

    // 2 metrics: families and the text exposition.
    onlyImports('layer-2-metrics', layer.metrics, [...layer.base, ...layer.events, ...layer.metrics],
      'metrics/ imports only base and events.'),

    // 3 decoder: kombu envelope -> body -> events.
    onlyImports('layer-3-decoder', layer.decoder, [...layer.base, ...layer.events, ...layer.decoder],
      'decoder/ imports only base and events (not metrics: it says why a message is invalid, state/pipeline count it).'),

    // 4 state: in-flight tasks, workers, queues; updates the metrics.
    onlyImports('layer-4-state', layer.state,
      [...layer.base, ...layer.events, ...layer.metrics, ...layer.decoder, ...layer.state],
      'state/ imports only base, events, metrics and decoder.'),

    // 5 pipeline: the transports' entry point, routes decoded events to state.
    onlyImports('layer-5-pipeline', layer.pipeline,
      [...layer.base, ...layer.events, ...layer.metrics, ...layer.decoder, ...layer.state, ...layer.pipeline],
      'pipeline.ts imports only base, events, metrics, decoder and state.'),

    // 5 http: /, /metrics, /healthz, /readyz; renders the metrics.
    onlyImports('layer-5-http', layer.http, [...layer.base, ...layer.metrics, ...layer.http],
      'http/ imports only base and metrics.'),

    // 6 collectors: transports, broker collectors, pollers, broker-neutral remote control.
    onlyImports('layer-6-collectors', layer.collectors,
      [...layer.base, ...layer.events, ...layer.metrics, ...layer.decoder, ...layer.state,
        ...layer.pipeline, ...layer.http, ...layer.collectors],
      'broker/, remote/ and pollers/ import nothing from continuity or the wiring (app, daemon, cli).'),
    neverImports('layer-6-remote-not-broker', '^src/remote/', '^src/broker/',
      'remote/ is broker-neutral: broker/ implements its interfaces and the wiring hands it a mailbox.'),

    // 7 continuity: --state-file and the rebuild from inspect.
    onlyImports('layer-7-continuity', layer.continuity,
      [...layer.base, ...layer.events, ...layer.metrics, ...layer.decoder, ...layer.state,
        ...layer.pipeline, ...layer.collectors, ...layer.continuity],
      'continuity/ imports anything below it except http/, and nothing of the wiring (app, daemon, cli).'),

    // 8 wiring: app, daemon, cli. May import everything; nothing imports it (rules above).

    {
      name: 'every-file-in-a-layer',
      comment: 'A new top-level file or folder of src/ gets its place in the layers above first.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: Object.values(layer).flat() },
    },
    {
      name: 'every-file-in-a-layer-imports',
      comment: 'The same, seen from the file outside the layers: it imports nothing until it has a place.',
      severity: 'error',
      from: { path: '^src/', pathNot: Object.values(layer).flat() },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
