// #/ : jobs per queue and state, jobs ended per minute over the last hour, the workers.

import { api } from './api.js';
import { STATES, ago, h, mount, stateBadge, table } from './dom.js';

// heartbeats age even when no event comes, and counts are read from SQL, which the recorder
// writes a little after the events (more when it lags): read everything again now and then
const REFRESH_MS = 15000;
const EVENT_DEBOUNCE_MS = 750;

export function overview(main) {
  const counts = h('div', { class: 'table-wrap' });
  const chart = h('div', { class: 'chart' });
  const workers = h('div', { class: 'table-wrap', id: 'workers' });
  const running = h('div', { class: 'table-wrap' });
  mount(
    main,
    h('h1', {}, 'Overview'),
    h('section', { class: 'card', 'aria-labelledby': 'counts-title' }, h('h2', { id: 'counts-title' }, 'Jobs by state'), counts),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, 'Last hour'),
      h('p', { class: 'legend' }, h('span', { class: 'key completed' }), 'completed ', h('span', { class: 'key failed' }), 'failed, per minute'),
      chart,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'workers-title' }, h('h2', { id: 'workers-title' }, 'Workers'), workers),
    h('section', { class: 'card', 'aria-labelledby': 'running-title' }, h('h2', { id: 'running-title' }, 'Running now'), running),
  );

  let disposed = false;
  const failed = (err) => disposed || mount(counts, h('p', { class: 'error', role: 'alert' }, err.message));
  // counts and the chart change with jobs, so events reload them (the timer below catches
  // what the recorder wrote after that reload)
  async function loadStats() {
    const stats = await api('/api/agent-execution/stats');
    if (disposed) return;
    mount(counts, countsTable(stats.data.counts));
    mount(chart, minutesChart(stats.data.minutes));
  }
  async function loadWorkers() {
    const status = await api('/api/agent-execution/workers');
    if (disposed) return;
    mount(workers, workersTable(status.data.liveWorkers));
    mount(running, runningTable(status.data.activeJobs));
  }
  const load = () => Promise.all([loadStats(), loadWorkers()]).catch(failed);
  load();
  // a hidden tab asks nothing; the live socket's catch-up reloads it when it shows again
  const timer = setInterval(() => document.hidden || load(), REFRESH_MS);
  let pending = null;
  return {
    onEvent() {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        load();
      }, EVENT_DEBOUNCE_MS);
    },
    dispose() {
      disposed = true;
      clearInterval(timer);
      clearTimeout(pending);
    },
  };
}

function countsTable(counts) {
  const queues = [...new Set(counts.map((c) => c.queueName))].sort();
  if (!queues.length) return h('p', { class: 'muted' }, 'No jobs yet. ', h('a', { href: '#/queue' }, 'Queue one.'));
  const n = (queue, state) => counts.find((c) => c.queueName === queue && c.state === state)?.count ?? 0;
  return h(
    'table',
    { class: 'counts' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Queue'), STATES.map((s) => h('th', { scope: 'col' }, stateBadge(s))))),
    h(
      'tbody',
      {},
      queues.map((q) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, q),
          STATES.map((s) => h('td', { 'data-queue': q, 'data-count': s }, h('a', { href: `#/jobs?state=${s}` }, String(n(q, s))))),
        ),
      ),
    ),
  );
}

function minutesChart(minutes) {
  const width = 600;
  const height = 120;
  const bar = width / minutes.length;
  const max = Math.max(1, ...minutes.map((m) => m.completed + m.failed));
  const total = minutes.reduce((a, m) => [a[0] + m.completed, a[1] + m.failed], [0, 0]);
  const label = `Last hour: ${total[0]} completed, ${total[1]} failed`;
  const y = (n) => (n / max) * (height - 4);
  return [
    h(
      'svg',
      { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'none' },
      minutes.map((m, i) => {
        const done = y(m.completed);
        const failed = y(m.failed);
        const at = new Date(m.minute).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
        return h(
          'g',
          {},
          h('title', {}, `${at}: ${m.completed} completed, ${m.failed} failed`),
          h('rect', { class: 'completed', x: i * bar + 1, width: bar - 2, y: height - done, height: done }),
          h('rect', { class: 'failed', x: i * bar + 1, width: bar - 2, y: height - done - failed, height: failed }),
        );
      }),
      h('line', { class: 'axis', x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5 }),
    ),
    h('p', { class: 'muted' }, label, ` (peak ${max} per minute)`),
  ];
}

function workersTable(workers) {
  return table(
    ['Worker', 'Host', 'Running', 'Heartbeat', 'Version'],
    workers.map((w) => [w.id, `${w.host} (pid ${w.pid})`, `${w.running} / ${w.concurrency}`, ago(w.lastHeartbeatAt), w.version]),
    'No worker is running.',
  );
}

function runningTable(jobs) {
  return table(
    ['Job', 'Task', 'Progress', 'Started'],
    jobs.map((j) => [
      h('a', { href: `#/jobs/${j.jobId}` }, j.jobId.slice(0, 8)),
      j.taskCode,
      h('progress', { max: 100, value: j.progress }, `${j.progress}%`),
      ago(j.startedAt),
    ]),
    'Nothing is running.',
  );
}
