// #/jobs?state=&projectId=&agentId=&taskId=&cursor= : jobs newest first, filtered, a keyset
// page at a time; rows follow the live events, and new jobs appear on the first page.

import { api, query } from './api.js';
import { STATES, duration, errorBox, field, h, mount, showError, stateBadge, time } from './dom.js';

const PAGE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RELOAD_DEBOUNCE_MS = 750;

export function jobList(main, params) {
  const filters = {
    state: params.get('state') || '',
    projectId: params.get('projectId') || '',
    agentId: params.get('agentId') || '',
    taskId: params.get('taskId') || '',
  };
  const cursor = params.get('cursor') || '';
  const table = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const projectSelect = h('select', { name: 'projectId' }, h('option', { value: '' }, 'All projects'));
  const agentSelect = h('select', { name: 'agentId' }, h('option', { value: '' }, 'All agents'));
  const filterForm = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Filters',
      onsubmit: (e) => {
        e.preventDefault();
        const data = Object.fromEntries(new FormData(filterForm).entries());
        location.hash = `#/jobs${query(data)}`;
      },
    },
    field('State', h('select', { name: 'state' }, h('option', { value: '' }, 'Any state'), STATES.map((s) => h('option', { value: s, selected: s === filters.state }, s)))),
    field('Project', projectSelect),
    field('Agent', agentSelect),
    field('Task id', h('input', { name: 'taskId', type: 'number', min: 1, inputmode: 'numeric', value: filters.taskId })),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const searchError = errorBox();
  const search = h(
    'form',
    {
      class: 'search',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        const id = new FormData(search).get('id').trim();
        if (UUID.test(id)) location.hash = `#/jobs/${id.toLowerCase()}`;
        else showError(searchError, new Error('A job id is a UUID, like 0192f3c4-…'));
      },
    },
    field('Job id', h('input', { name: 'id', type: 'search', placeholder: 'Go to a job by its id', autocomplete: 'off' })),
    h('button', { type: 'submit' }, 'Go'),
    searchError,
  );
  mount(main, h('h1', {}, 'Jobs'), h('section', { class: 'card' }, search, filterForm), h('section', { class: 'card' }, table, pager));

  let disposed = false;
  let agents = new Map();
  let rows = new Map(); // jobId -> row element

  async function loadPickers() {
    const [projects, agentList] = await Promise.all([api('/api/projects'), api('/api/agents')]);
    for (const p of projects.data) projectSelect.append(h('option', { value: p.id, selected: String(p.id) === filters.projectId }, p.name));
    for (const a of agentList.data) agentSelect.append(h('option', { value: a.id, selected: String(a.id) === filters.agentId }, a.name));
    agents = new Map(agentList.data.map((a) => [a.id, a.name]));
  }

  async function load() {
    try {
      const page = await api(`/api/agent-execution/jobs${query({ ...filters, limit: PAGE, cursor })}`);
      if (disposed) return;
      rows = new Map();
      mount(table, page.data.length ? jobsTable(page.data) : h('p', { class: 'muted' }, 'No job matches.'));
      mount(
        pager,
        cursor && h('a', { href: `#/jobs${query(filters)}` }, '« First page'),
        page.nextCursor && h('a', { href: `#/jobs${query({ ...filters, cursor: page.nextCursor })}`, rel: 'next' }, 'Next page »'),
      );
    } catch (err) {
      if (!disposed) mount(table, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  }

  function jobsTable(jobs) {
    return h(
      'table',
      { class: 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Task', 'Agent', 'State', 'Progress', 'Attempts', 'Queued', 'Took'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        jobs.map((j) => {
          const row = h(
            'tr',
            { 'data-job': j.jobId },
            h('td', {}, h('a', { href: `#/jobs/${j.jobId}` }, j.jobId.slice(0, 8))),
            h('td', {}, j.taskCode),
            h('td', {}, agents.get(j.agentId) || `#${j.agentId}`),
            h('td', { class: 'state' }, stateBadge(j.status)),
            h('td', {}, h('progress', { max: 100, value: j.progress }, `${j.progress}%`)),
            h('td', { class: 'attempts' }, `${j.attemptsMade} / ${j.maxAttempts}`),
            h('td', {}, time(j.queuedAt)),
            h('td', {}, duration(j.executionTimeMs)),
          );
          rows.set(j.jobId, row);
          return row;
        }),
      ),
    );
  }

  loadPickers().then(load, load);
  let pending = null;
  return {
    onEvent(event) {
      const row = event.data && rows.get(event.data.jobId);
      if (row) {
        if (event.data.status) mount(row.querySelector('.state'), stateBadge(event.data.status));
        if (typeof event.data.progress === 'number') row.querySelector('progress').value = event.data.progress;
        if (typeof event.data.attemptsMade === 'number') {
          const cell = row.querySelector('.attempts');
          cell.textContent = cell.textContent.replace(/^\d+/, String(event.data.attemptsMade));
        }
      }
      // a new job, or a gap: the first page shows it after a reload
      const fresh = event.event === 'agent_job_queued' || event.event === 'gap';
      if (fresh && !cursor && !pending) {
        pending = setTimeout(() => {
          pending = null;
          load();
        }, RELOAD_DEBOUNCE_MS);
      }
    },
    dispose() {
      disposed = true;
      clearTimeout(pending);
    },
  };
}
