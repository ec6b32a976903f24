/**
 * The "Periodic tasks" row of Celery / Tasks: tasks declared with --periodic-task (they have an
 * expected interval), and the last success of every task name. The timestamps carry no queue, so
 * only the job and task variables apply.
 */
import { q, row, sel, table, timeseries, type PanelSpec } from './lib.js';

const f = sel('job', 'name');
const declared = `celery_task_expected_interval_seconds{${f}}`;
/**
 * Age of the last success, or of the exporter's start for a declared task with none since (with two
 * replicas the earlier start: the longer watch, as CeleryPeriodicTaskOverdue reads it).
 */
const successAge = `time() - (celery_task_last_succeeded_timestamp_seconds{${f}} or on (job, name) (${declared} * 0 + on (job) group_left min by (job) (celery_exporter_start_time_seconds{job=~"$job"})))`;
const overdueAfter = `${declared} * on (job, name) celery_task_expected_interval_tolerance_ratio{${f}}`;

export const periodicPanels: PanelSpec[] = [
  row('Periodic tasks'),
  table({
    title: 'Declared periodic tasks',
    unit: 's',
    description:
      'Tasks declared with --periodic-task: time since the last success (or since the exporter started, when none was seen since), time since the last failure, the expected interval, and whether it is overdue (no success for interval × tolerance; CeleryPeriodicTaskOverdue fires after 5 more minutes).',
    queries: [
      { expr: `max by (name) (${successAge})`, instant: true },
      { expr: `max by (name) ((time() - celery_task_last_failed_timestamp_seconds{${f}}) and on (job, name) ${declared})`, instant: true },
      { expr: `max by (name) (${declared})`, instant: true },
      { expr: `max by (name) ((${successAge}) > bool on (job, name) (${overdueAfter}))`, instant: true },
    ],
    columnNames: { A: 'Since last success', B: 'Since last failure', C: 'Expected interval', D: 'Overdue' },
    columnUnits: { D: 'bool_yes_no' },
  }),
  timeseries({
    title: 'Time since last success, declared tasks',
    unit: 's',
    min: 0,
    description: 'Age of the last success of each declared periodic task (sawtooth: it drops to 0 at each success). Compare with its expected interval.',
    queries: [q(`max by (name) (${successAge})`, '{{name}}')],
  }),
  timeseries({
    title: 'Overdue ratio, declared tasks',
    unit: 'percentunit',
    min: 0,
    description: 'Time since the last success ÷ (expected interval × tolerance): the task is overdue above 100 %.',
    queries: [q(`max by (name) ((${successAge}) / on (job, name) (${overdueAfter}))`, '{{name}}')],
  }),
  table({
    title: 'Last success of every task',
    unit: 's',
    description: 'Every task name that succeeded since the exporter started, declared periodic or not: time since its last success and last failure.',
    queries: [
      { expr: `max by (name) (time() - celery_task_last_succeeded_timestamp_seconds{${f}})`, instant: true },
      { expr: `max by (name) (time() - celery_task_last_failed_timestamp_seconds{${f}})`, instant: true },
    ],
    columnNames: { A: 'Since last success', B: 'Since last failure' },
  }),
];
