import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What each test tier needs besides Node, checked once before a tier runs so that a missing
 * program is named in one message with its install command, instead of a timeout or an uncaught
 * `spawn … ENOENT` deep inside a test. The unit tier needs nothing.
 */
export type Tier = 'unit' | 'integration' | 'bundle' | 'e2e';
export const TIERS: readonly Tier[] = ['unit', 'integration', 'bundle', 'e2e'];

interface Prerequisite {
  /** What the message calls it. */
  name: string;
  /** Debian package that provides it. */
  apt: string;
  tiers: readonly Tier[];
  /** Only needed when this returns true (e.g. no REDIS_URL given). */
  when?: () => boolean;
  present: () => boolean;
}

/** The interpreter the tests start Celery workers with (Debian's, which has python3-celery). */
export const PYTHON = process.env['CELERY_PYTHON'] ?? '/usr/bin/python3';
export const PROMETHEUS = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';

function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pythonImports(module: string): boolean {
  try {
    execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const noRedisUrl = () => !process.env['REDIS_URL'];

const PREREQUISITES: readonly Prerequisite[] = [
  // The suite starts its own redis-server unless REDIS_URL is given; the fault tests always do.
  { name: 'redis-server', apt: 'redis-server', tiers: ['integration'], present: () => onPath('redis-server') },
  { name: 'redis-server', apt: 'redis-server', tiers: ['bundle', 'e2e'], when: noRedisUrl, present: () => onPath('redis-server') },
  { name: 'redis-sentinel', apt: 'redis-sentinel', tiers: ['integration'], present: () => onPath('redis-sentinel') },
  { name: 'rabbitmqctl', apt: 'rabbitmq-server', tiers: ['integration', 'e2e'], present: () => onPath('rabbitmqctl') },
  { name: 'promtool', apt: 'prometheus', tiers: ['bundle', 'e2e'], present: () => onPath('promtool') },
  { name: `prometheus (${PROMETHEUS}; PROMETHEUS_BIN)`, apt: 'prometheus', tiers: ['e2e'], present: () => executable(PROMETHEUS) },
  { name: `${PYTHON} -m celery (CELERY_PYTHON)`, apt: 'python3-celery', tiers: ['integration', 'bundle', 'e2e'], present: () => pythonImports('celery') },
  { name: `${PYTHON}: import redis`, apt: 'python3-redis', tiers: ['integration', 'e2e'], present: () => pythonImports('redis') },
  { name: `${PYTHON}: import amqp`, apt: 'python3-amqp', tiers: ['integration', 'e2e'], present: () => pythonImports('amqp') },
  { name: 'openssl', apt: 'openssl', tiers: ['integration'], present: () => onPath('openssl') },
];

/** Every prerequisite of these tiers that is missing, each named once. */
export function missingPrerequisites(tiers: readonly Tier[]): Array<{ name: string; apt: string }> {
  const missing = new Map<string, { name: string; apt: string }>();
  for (const p of PREREQUISITES) {
    if (!p.tiers.some((t) => tiers.includes(t)) || missing.has(p.name)) continue;
    if (p.when !== undefined && !p.when()) continue;
    if (!p.present()) missing.set(p.name, { name: p.name, apt: p.apt });
  }
  return [...missing.values()];
}

/** One message naming every missing prerequisite and the command that installs them all. */
export function prerequisitesMessage(tiers: readonly Tier[], missing: Array<{ name: string; apt: string }>): string {
  const packages = [...new Set(missing.map((m) => m.apt))].join(' ');
  return [
    `the ${tiers.join(', ')} test tier(s) need programs this machine does not have:`,
    ...missing.map((m) => `  - ${m.name}`),
    `install them with:  sudo apt-get install -y ${packages}`,
    '(or run only the unit tier, which needs nothing but Node: npm run test:unit)',
  ].join('\n');
}

/**
 * The tiers this vitest run covers, read from its command line: `--project <name>` options, else
 * test files named by path (`test/<tier>/…`), else every tier (`npm test`). Each tier's setup
 * checks them all, so the first message already names everything the run needs.
 */
export function tiersOfThisRun(argv: readonly string[] = process.argv): Tier[] {
  const named = new Set<Tier>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = a === '--project' ? argv[i + 1] : a.startsWith('--project=') ? a.slice('--project='.length) : undefined;
    if (value !== undefined && (TIERS as readonly string[]).includes(value)) named.add(value as Tier);
  }
  if (named.size > 0) return [...named];
  for (const a of argv) {
    const m = /(?:^|\/)test\/(unit|integration|bundle|e2e)(?:\/|$)/.exec(a);
    if (m) named.add(m[1] as Tier);
  }
  return named.size > 0 ? [...named] : [...TIERS];
}
