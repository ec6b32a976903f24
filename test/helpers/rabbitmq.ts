import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { amqpUrl } from './brokers.js';
import { uid } from './ids.js';

const run = promisify(execFile);

/**
 * RabbitMQ is shared by everyone on the machine: each test file works in a vhost of its own,
 * created here and deleted in teardown, and only ever closes connections of that vhost.
 */
export async function rabbitmqctl(args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 60_000 });
  return stdout;
}

export interface TestVhost {
  name: string;
  /** amqp://guest:guest@127.0.0.1:5672/<vhost, percent-encoded>. */
  url: string;
  /** Server-side close of every connection of this vhost (never the global form). */
  closeConnections(reason?: string): Promise<void>;
  /** Creates a user allowed on this vhost; returns `url` with that user's credentials. Removed with the vhost. */
  addUser(password: string, url: string): Promise<string>;
  remove(): Promise<void>;
}

export async function createVhost(purpose: string): Promise<TestVhost> {
  const name = `cpe-${purpose}-${uid()}`;
  await rabbitmqctl(['add_vhost', name]);
  await rabbitmqctl(['set_permissions', '-p', name, 'guest', '.*', '.*', '.*']);
  const users: string[] = [];
  return {
    name,
    url: amqpUrl(name),
    async closeConnections(reason = 'test') {
      await rabbitmqctl(['close_all_connections', '--vhost', name, reason]);
    },
    async addUser(password: string, url: string) {
      const user = `${name}-user`;
      users.push(user);
      await rabbitmqctl(['add_user', user, password]);
      await rabbitmqctl(['set_permissions', '-p', name, user, '.*', '.*', '.*']);
      return url.replace(/\/\/[^@]*@/, `//${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);
    },
    async remove() {
      await rabbitmqctl(['delete_vhost', name]);
      for (const u of users.splice(0)) await rabbitmqctl(['delete_user', u]).catch(() => undefined);
    },
  };
}

/** Rows of `rabbitmqctl list_queues -p <vhost> <columns…>`, tab-separated. */
export async function listQueues(vhost: string, columns: string[]): Promise<string[][]> {
  const out = await rabbitmqctl(['list_queues', '-p', vhost, '--no-table-headers', ...columns]);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}
