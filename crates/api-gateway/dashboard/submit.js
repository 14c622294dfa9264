// #/queue : queue a job — a project's task, an agent, a priority — as POST
// /api/agent-execution/queue does it for any client; then the job's page.

import { api } from './api.js';
import { errorBox, field, h, mount, showError } from './dom.js';

const PRIORITIES = ['critical', 'high', 'medium', 'low'];

export function submitPage(main) {
  const projectSelect = h('select', { name: 'project', required: true, onchange: () => loadTasks() });
  const taskSelect = h('select', { name: 'taskId', required: true });
  const agentSelect = h('select', { name: 'agentId', required: true });
  const error = errorBox();
  const submit = h('button', { type: 'submit' }, 'Queue the job');
  const form = h(
    'form',
    { class: 'card stack', 'aria-labelledby': 'queue-title', onsubmit: (e) => send(e) },
    h('h1', { id: 'queue-title' }, 'Queue a job'),
    field('Project', projectSelect),
    field('Task', taskSelect),
    field('Agent', agentSelect),
    field('Priority', h('select', { name: 'priority' }, PRIORITIES.map((p) => h('option', { value: p, selected: p === 'medium' }, p)))),
    field('Context (JSON, optional)', h('textarea', { name: 'context', rows: 3, spellcheck: false, placeholder: '{"dependencies": [], "relatedTasks": []}' })),
    error,
    submit,
  );
  mount(main, form);

  let disposed = false;
  async function loadTasks() {
    mount(taskSelect);
    if (!projectSelect.value) return;
    const tasks = await api(`/api/projects/${projectSelect.value}/tasks`);
    if (disposed) return;
    mount(taskSelect, tasks.data.map((t) => h('option', { value: t.id }, `${t.code} — ${t.title}`)));
    if (!tasks.data.length) showError(error, new Error('This project has no task yet.'));
  }

  async function load() {
    try {
      const [projects, agents] = await Promise.all([api('/api/projects'), api('/api/agents')]);
      if (disposed) return;
      mount(projectSelect, projects.data.map((p) => h('option', { value: p.id }, p.name)));
      mount(agentSelect, agents.data.map((a) => h('option', { value: a.id }, a.name)));
      if (!projects.data.length) showError(error, new Error('You are in no project yet.'));
      await loadTasks();
    } catch (err) {
      showError(error, err);
    }
  }

  async function send(e) {
    e.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    const body = {
      taskId: Number(data.get('taskId')),
      agentId: Number(data.get('agentId')),
      metadata: { priority: data.get('priority') },
    };
    const context = String(data.get('context') || '').trim();
    if (context) {
      try {
        body.context = JSON.parse(context);
      } catch {
        return showError(error, new Error('Context must be JSON, e.g. {"dependencies": []}'));
      }
    }
    submit.disabled = true;
    try {
      const answer = await api('/api/agent-execution/queue', { method: 'POST', body });
      location.hash = `#/jobs/${answer.data.jobId}`;
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  }

  load();
  return {
    dispose() {
      disposed = true;
    },
  };
}
