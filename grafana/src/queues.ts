import { JOB, QUEUE } from './common.js';
import { dashboard, q, quantile, rate, row, sel, stat, timeseries, type Json } from './lib.js';

const f = sel('job', 'queue_name');
const job = sel('job');

export const queues: Json = dashboard({
  uid: 'celery-queues',
  title: 'Celery / Queues',
  description: 'Queue depth (per priority), reserved messages, inflow vs outflow, oldest pending task, workers and consumers per queue, broker health.',
  variables: [JOB, QUEUE],
  panels: [
    row('Now'),
    stat({ title: 'Queues', unit: 'short', w: 5, description: 'Queues reported by the broker poller.', queries: [q(`count(count by (queue_name) (celery_queue_length{${f}}))`)] }),
    stat({ title: 'Messages waiting', unit: 'short', w: 5, description: 'Messages waiting in the selected queues.', queries: [q(`sum(celery_queue_length{${f}})`)] }),
    stat({ title: 'Messages reserved', unit: 'short', w: 5, description: 'Messages fetched by workers and not yet acknowledged.', queries: [q(`sum(celery_queue_unacked{${f}})`)] }),
    stat({ title: 'Oldest pending task', unit: 's', w: 5, description: 'Age of the oldest task no worker has received yet.', queries: [q(`max(celery_queue_oldest_pending_age_seconds{${f}})`)] }),
    stat({
      title: 'Queues without workers',
      unit: 'short',
      w: 4,
      description: 'Known queues that no worker consumes, by remote control (`inspect active_queues`). Tasks sent there wait until a worker subscribes.',
      queries: [q(`sum(celery_active_worker_count{${f}} == bool 0)`)],
    }),

    row('Depth'),
    timeseries({ title: 'Queue depth', unit: 'short', min: 0, description: 'Messages waiting per queue, all priorities.', queries: [q(`sum by (queue_name) (celery_queue_length{${f}})`, '{{queue_name}}')] }),
    timeseries({
      title: 'Queue depth by priority',
      unit: 'short',
      min: 0,
      stack: true,
      description: 'Redis: messages per priority step (kombu’s priority sub-lists; on Redis 0 is the highest priority). Only queues that use priorities.',
      queries: [q(`sum by (queue_name, priority) (celery_queue_length_by_priority{${f}})`, '{{queue_name}} priority {{priority}}')],
    }),
    timeseries({
      title: 'Inflow vs outflow',
      unit: 'ops',
      min: 0,
      description: 'Tasks sent to each queue (task-sent) vs taken by workers (task-received) per second. Inflow above outflow grows the queue.',
      queries: [
        q(`sum by (queue_name) (${rate('celery_task_sent_total', f)})`, '{{queue_name}} in'),
        q(`sum by (queue_name) (${rate('celery_task_received_total', f)})`, '{{queue_name}} out'),
      ],
    }),
    timeseries({
      title: 'Queue wait p95 by queue',
      unit: 's',
      min: 0,
      description: '95th percentile of task-sent → task-started per queue (the SLO of CeleryQueueWaitHigh).',
      queries: [q(quantile(0.95, 'celery_task_queue_wait_seconds', f, ['queue_name']), '{{queue_name}}')],
    }),

    row('Waiting and reserved'),
    timeseries({
      title: 'Oldest pending task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'How long the oldest task sent to each queue has waited for a worker to receive it.',
      queries: [q(`max by (queue_name) (celery_queue_oldest_pending_age_seconds{${f}})`, '{{queue_name}}')],
    }),
    timeseries({
      title: 'Reserved messages',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Messages fetched by workers, not yet acknowledged: prefetched, ETA/countdown, running acks_late tasks (RabbitMQ: with --rabbitmq-management-url).',
      queries: [q(`sum by (queue_name) (celery_queue_unacked{${f}})`, '{{queue_name}}')],
    }),
    timeseries({
      title: 'Oldest reserved message',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Redis: how long ago the oldest reserved message of each queue was fetched by a worker.',
      queries: [q(`max by (queue_name) (celery_queue_unacked_oldest_age_seconds{${f}})`, '{{queue_name}}')],
    }),

    row('Consumers'),
    timeseries({
      title: 'Workers per queue',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Workers consuming each queue, by remote control (`inspect active_queues`); 0 for a known queue nobody consumes.',
      queries: [q(`max by (queue_name) (celery_active_worker_count{${f}})`, '{{queue_name}}')],
    }),
    timeseries({
      title: 'Pool processes per queue',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Pool child processes of the workers consuming each queue (a worker on two queues counts for both; thread and gevent pools add none).',
      queries: [q(`max by (queue_name) (celery_active_process_count{${f}})`, '{{queue_name}}')],
    }),
    timeseries({
      title: 'Consumers per queue',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'RabbitMQ: consumers attached to each queue, as the broker counts them (one per worker channel, plus any non-Celery consumer).',
      queries: [q(`max by (queue_name) (celery_active_consumer_count{${f}})`, '{{queue_name}}')],
    }),

    row('Broker'),
    timeseries({ title: 'Broker memory', unit: 'bytes', min: 0, w: 8, description: 'Memory used by the broker (Redis used_memory; RabbitMQ: the node answering the management API).', queries: [q(`max by (broker) (celery_broker_memory_used_bytes{${job}})`, '{{broker}}')] }),
    timeseries({ title: 'Broker clients', unit: 'short', min: 0, w: 8, description: 'Client connections open on the broker.', queries: [q(`max by (broker) (celery_broker_connected_clients{${job}})`, '{{broker}}')] }),
    timeseries({
      title: 'Keys evicted by the broker',
      unit: 'ops',
      min: 0,
      w: 8,
      description: 'Redis: keys evicted under maxmemory per second. Evicted queue keys are lost tasks: must stay 0.',
      queries: [q(`max by (broker) (${rate('celery_broker_evicted_keys_total', job)})`, '{{broker}}')],
    }),
    timeseries({
      title: 'Broker messages ready and unacknowledged',
      unit: 'short',
      min: 0,
      description: 'RabbitMQ management API: messages ready and delivered-but-unacknowledged across the vhost (every queue, not only Celery’s).',
      queries: [
        q(`max by (broker) (celery_broker_messages_ready{${job}})`, '{{broker}} ready'),
        q(`max by (broker) (celery_broker_messages_unacked{${job}})`, '{{broker}} unacked'),
      ],
    }),
    timeseries({
      title: 'Broker publish and deliver rate',
      unit: 'ops',
      min: 0,
      description: 'RabbitMQ management API: messages published into the vhost and delivered or fetched from it per second (events and remote control included).',
      queries: [
        q(`max by (broker) (${rate('celery_broker_messages_published_total', job)})`, '{{broker}} published'),
        q(`max by (broker) (${rate('celery_broker_messages_delivered_total', job)})`, '{{broker}} delivered'),
      ],
    }),
  ],
});
