// #/jobs/<id> : one job, live. Its room (`job:<id>`) brings its progress and output lines as
// they happen; cancel and retry are the API's.

import { api } from './api.js';
import { duration, errorBox, h, mount, showError, stateBadge, time, toast } from './dom.js';

const TAIL_LINES = 500;
const CANCELLABLE = new Set(['waiting', 'delayed', 'active']);
const ACTIONS = {
  job_queued: 'Queued',
  attempt_failed: 'Attempt failed',
  job_cancelled: 'Cancelled',
  job_retried: 'Retried',
};

export function jobPage(main, id, live) {
  const room = `job:${id}`;
  live.join(room);
  const title = h('h1', {}, 'Job ', h('code', {}, id.slice(0, 8)));
  const stateCell = h('span', { id: 'job-state' });
  const progress = h('progress', { id: 'job-progress', max: 100, value: 0, 'aria-label': 'Progress' });
  const progressText = h('span', { class: 'muted' });
  const facts = h('dl', { class: 'facts' });
  const actionError = errorBox();
  const cancelButton = h('button', { type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel');
  const retryButton = h('button', { type: 'button', onclick: () => act('retry') }, 'Retry');
  const result = h('pre', { class: 'json', id: 'job-result' });
  const payload = h('div');
  const timeline = h('ol', { class: 'timeline', id: 'job-timeline' });
  const output = h('pre', { class: 'output', id: 'job-output', tabindex: 0, 'aria-label': 'Agent output' });
  mount(
    main,
    h('p', {}, h('a', { href: '#/jobs' }, '« Jobs')),
    title,
    h(
      'section',
      { class: 'card' },
      h('p', { class: 'status-line' }, stateCell, ' ', progress, ' ', progressText),
      h('div', { class: 'actions' }, cancelButton, retryButton),
      actionError,
      facts,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'output-title' }, h('h2', { id: 'output-title' }, 'Output'), output),
    h('section', { class: 'card', 'aria-labelledby': 'result-title' }, h('h2', { id: 'result-title' }, 'Result'), result),
    h('section', { class: 'card', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline),
    h('section', { class: 'card', 'aria-labelledby': 'payload-title' }, h('h2', { id: 'payload-title' }, 'Queued with'), payload),
  );

  let disposed = false;
  let job = null;
  let agents = new Map();

  function showState(status, percent) {
    mount(stateCell, stateBadge(status));
    progress.value = percent;
    progressText.textContent = `${percent}%`;
    cancelButton.hidden = !CANCELLABLE.has(status);
    retryButton.hidden = status !== 'failed';
  }

  function showJob(j) {
    job = j;
    showState(j.status, j.progress);
    const fact = (name, value) => [h('dt', {}, name), h('dd', {}, value)];
    mount(
      facts,
      fact('Job id', h('code', {}, j.jobId)),
      fact('Task', `${j.taskCode} (#${j.taskId})`),
      fact('Agent', agents.get(j.agentId) || `#${j.agentId}`),
      fact('Project', `#${j.projectId}`),
      fact('Queue', j.queueName),
      fact('Priority', String(j.priority)),
      fact('Attempts', `${j.attemptsMade} of ${j.maxAttempts}`),
      fact('Queued', time(j.queuedAt)),
      fact('Started', time(j.startedAt)),
      fact('Ended', time(j.completedAt)),
      fact('Took', duration(j.executionTimeMs)),
      j.lastError && fact('Last error', h('span', { class: 'error-text' }, j.lastError)),
    );
    result.textContent = j.result === null || j.result === undefined ? '—' : JSON.stringify(j.result, null, 2);
  }

  function showDetails(d) {
    const steps = d.activity.map((a) => {
      const detail = a.detail || {};
      const text =
        a.action === 'attempt_failed'
          ? `Attempt ${detail.attempt ?? '?'} failed${detail.final ? ' (no retry left)' : ', retrying'}: ${detail.error}`
          : ACTIONS[a.action] || a.action;
      return { at: a.at, text: a.userId ? `${text} by user #${a.userId}` : text, failed: a.action === 'attempt_failed' };
    });
    if (job && job.startedAt) steps.push({ at: job.startedAt, text: `Started (attempt ${job.attemptsMade || 1})` });
    if (job && job.completedAt) steps.push({ at: job.completedAt, text: `Ended ${job.status}` });
    steps.sort((a, b) => a.at.localeCompare(b.at));
    mount(timeline, steps.map((s) => h('li', { class: s.failed ? 'failed' : '' }, h('time', { datetime: s.at }, time(s.at)), ' ', s.text)));
    const p = d.payload;
    mount(
      payload,
      h('h3', {}, 'Metadata'),
      h('pre', { class: 'json' }, JSON.stringify(p.metadata, null, 2)),
      h('h3', {}, 'Context'),
      h('pre', { class: 'json' }, JSON.stringify(p.context, null, 2)),
      h('h3', {}, 'MCP servers'),
      p.mcpConfigs.length
        ? h(
            'ul',
            {},
            p.mcpConfigs.map((m) =>
              h('li', {}, `${m.serverName}: ${m.serverUrl} (${m.authType}${m.hasCredentials ? ', credentials sealed, not shown' : ''}${m.enabled ? '' : ', disabled'})`),
            ),
          )
        : h('p', { class: 'muted' }, 'None'),
    );
  }

  function appendLines(lines) {
    const text = output.textContent + lines.map((l) => `${l}\n`).join('');
    const kept = text.split('\n').slice(-TAIL_LINES - 1).join('\n');
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.textContent = kept;
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  async function loadJob() {
    const [answer, details] = await Promise.all([
      api(`/api/agent-execution/jobs/${id}`),
      api(`/api/agent-execution/jobs/${id}/details`),
    ]);
    if (disposed) return;
    showJob(answer.data);
    showDetails(details.data);
  }

  async function load() {
    try {
      const agentList = await api('/api/agents').catch(() => ({ data: [] }));
      agents = new Map(agentList.data.map((a) => [a.id, a.name]));
      await loadJob();
      const logs = await api(`/api/agent-execution/jobs/${id}/logs`);
      if (!disposed && !output.textContent) appendLines(logs.data.lines);
    } catch (err) {
      if (disposed) return;
      mount(main, h('h1', {}, err.status === 404 ? 'Job not found' : 'Could not load the job'), h('p', { class: 'error', role: 'alert' }, err.message), h('p', {}, h('a', { href: '#/jobs' }, '« Jobs')));
    }
  }

  async function act(what) {
    actionError.hidden = true;
    try {
      const answer = await api(`/api/agent-execution/jobs/${id}/${what}`, { method: 'POST' });
      toast(answer.message || `Job ${what === 'cancel' ? 'cancelled' : 'queued again'}`);
      await loadJob();
    } catch (err) {
      showError(actionError, err);
    }
  }

  load();
  return {
    onEvent(event) {
      if (!event.data || (event.data.jobId !== id && event.event !== 'gap')) return;
      if (event.event === 'agent_job_log') {
        if (event.room === room) appendLines(event.data.lines || []);
        return;
      }
      // the same event comes once per room this page is in: apply it once
      if (event.room !== room && event.room !== undefined && event.event !== 'gap') return;
      if (job && event.data.status) showState(event.data.status, event.data.progress ?? (event.data.status === 'completed' ? 100 : progress.value));
      if (typeof event.data.progress === 'number' && !event.data.status) showState(job ? job.status : 'active', event.data.progress);
      if (['agent_job_started', 'agent_job_completed', 'agent_job_failed', 'agent_job_retrying', 'agent_job_cancelled', 'agent_job_queued', 'gap'].includes(event.event)) {
        loadJob().catch(() => {});
      }
    },
    dispose() {
      disposed = true;
      live.leave(room);
    },
  };
}
