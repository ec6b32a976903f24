import type { BrokerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { Mailbox, MailboxHooks } from '../remote/mailbox.js';
import { AmqpMailbox } from './amqp/pidbox.js';
import { RedisMailbox } from './redis/pidbox.js';

/** The remote-control (pidbox) adapter for the configured broker. Connects on first use. */
export function createMailbox(cfg: BrokerConfig, log?: Logger, hooks: MailboxHooks = {}): Mailbox {
  switch (cfg.url.transport) {
    case 'redis':
      return new RedisMailbox(cfg, log, undefined, hooks);
    case 'amqp':
      return new AmqpMailbox(cfg, log, undefined, hooks);
  }
}
