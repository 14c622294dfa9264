// #/admin : users, projects and their members, agents. Admins only (the API refuses others
// with 403 whatever this page shows).

import { api } from './api.js';
import { errorBox, field, fields, h, mount, showError, table, toast } from './dom.js';

export function adminPage(main) {
  const users = h('div', { class: 'table-wrap' });
  const projects = h('div', { class: 'table-wrap' });
  const agents = h('div', { class: 'table-wrap' });
  const memberProject = h('select', { name: 'project', required: true });
  const memberUser = h('select', { name: 'userId', required: true });
  const changedAgent = h('select', { name: 'agent', required: true });
  // NAME=value per line; the API keeps them sealed and never shows a value again
  const envInput = (name) =>
    h('textarea', { name, rows: 2, spellcheck: false, autocomplete: 'off', placeholder: 'NAME=value, one per line' });

  mount(
    main,
    h('h1', {}, 'Admin'),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'users-title' },
      h('h2', { id: 'users-title' }, 'Users'),
      users,
      form('New user', [
        field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' })),
        field('Password', h('input', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' })),
        field('Role', h('select', { name: 'role' }, h('option', { value: 'member' }, 'member'), h('option', { value: 'admin' }, 'admin'))),
      ], (f) => api('/api/users', { method: 'POST', body: f })),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'projects-title' },
      h('h2', { id: 'projects-title' }, 'Projects'),
      projects,
      form('New project', [field('Name', h('input', { name: 'name', required: true }))], (f) => api('/api/projects', { method: 'POST', body: f })),
      form('Add a member', [field('Project', memberProject), field('User', memberUser)], (f) =>
        api(`/api/projects/${f.project}/members`, { method: 'POST', body: { userId: Number(f.userId) } }),
      ),
      form('New task', [field('Project', memberProject.cloneNode(true)), field('Code', h('input', { name: 'code', required: true })), field('Title', h('input', { name: 'title', required: true }))], (f) =>
        api(`/api/projects/${f.project}/tasks`, { method: 'POST', body: { code: f.code, title: f.title } }),
      ),
      form(
        'Change a weight',
        [field('Project', memberProject.cloneNode(true)), field('Fair-share weight (1–100)', h('input', { name: 'weight', type: 'number', min: 1, max: 100, required: true }))],
        (f) => api(`/api/projects/${f.project}/weight`, { method: 'PUT', body: { weight: Number(f.weight) } }),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'agents-title' },
      h('h2', { id: 'agents-title' }, 'Agents'),
      agents,
      form(
        'New agent',
        [
          field('Name', h('input', { name: 'name', required: true })),
          field('Kind', h('select', { name: 'kind' }, h('option', { value: 'command' }, 'command'), h('option', { value: 'http' }, 'http'))),
          field('Command (one argument per line) or endpoint URL', h('textarea', { name: 'target', rows: 3, required: true, spellcheck: false })),
          field('Timeout (s, optional)', h('input', { name: 'timeoutSecs', type: 'number', min: 1 })),
          field('Max concurrency (optional)', h('input', { name: 'maxConcurrency', type: 'number', min: 1 })),
          field('Environment (optional)', envInput('env')),
        ],
        (f) => {
          const body = { name: f.name, kind: f.kind };
          if (f.kind === 'command') body.command = f.target.split('\n').map((l) => l.trim()).filter(Boolean);
          else body.endpointUrl = f.target.trim();
          if (f.timeoutSecs) body.timeoutSecs = Number(f.timeoutSecs);
          if (f.maxConcurrency) body.maxConcurrency = Number(f.maxConcurrency);
          if (f.env.trim()) body.env = parseEnv(f.env);
          return api('/api/agents', { method: 'POST', body });
        },
      ),
      form(
        'Change an agent',
        [
          field('Agent', changedAgent),
          field('Timeout (s)', h('input', { name: 'timeoutSecs', type: 'number', min: 1 })),
          field('Max concurrency (0: no limit)', h('input', { name: 'maxConcurrency', type: 'number', min: 0 })),
          field('New environment (replaces every variable)', envInput('env')),
        ],
        (f) => {
          // only what was filled in changes
          const body = {};
          if (f.timeoutSecs) body.timeoutSecs = Number(f.timeoutSecs);
          if (f.maxConcurrency) body.maxConcurrency = Number(f.maxConcurrency) || null;
          if (f.env.trim()) body.env = parseEnv(f.env);
          return api(`/api/agents/${f.agent}`, { method: 'PATCH', body });
        },
      ),
    ),
  );

  /// `NAME=value` lines as an object; a line without `=` is refused before anything is sent.
  function parseEnv(text) {
    const env = {};
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const at = line.indexOf('=');
      if (at < 1) throw new Error(`Environment, line ${i + 1}: NAME=value expected`);
      env[line.slice(0, at).trim()] = line.slice(at + 1);
    });
    return env;
  }

  function form(title, inputs, send) {
    const error = errorBox();
    const el = h(
      'form',
      {
        class: 'inline-form',
        'aria-label': title,
        onsubmit: async (e) => {
          e.preventDefault();
          error.hidden = true;
          try {
            await send(fields(el));
            toast(`${title}: done`);
            el.reset();
            load();
          } catch (err) {
            showError(error, err);
          }
        },
      },
      h('h3', {}, title),
      inputs,
      h('button', { type: 'submit' }, title.startsWith('Add') ? 'Add' : title.startsWith('Change') ? 'Change' : 'Create'),
      error,
    );
    return el;
  }

  let disposed = false;
  async function load() {
    try {
      const [u, p, a] = await Promise.all([api('/api/users'), api('/api/projects'), api('/api/agents')]);
      if (disposed) return;
      mount(users, table(['Id', 'Email', 'Role'], u.data.map((x) => [x.id, x.email, x.role])));
      const members = await Promise.all(p.data.map((x) => api(`/api/projects/${x.id}/members`)));
      if (disposed) return;
      mount(
        projects,
        table(
          ['Id', 'Name', 'Weight', 'Members'],
          p.data.map((x, i) => [x.id, x.name, x.weight ?? 1, members[i].data.map((m) => m.email).join(', ') || '—']),
        ),
      );
      mount(
        agents,
        table(
          ['Id', 'Name', 'Runs', 'Timeout', 'Concurrency', 'Env'],
          a.data.map((x) => [
            x.id,
            x.name,
            x.kind === 'command' ? (x.command || []).join(' ') : x.endpointUrl,
            `${x.timeoutSecs} s`,
            x.maxConcurrency ?? 'any',
            // the API names the variables, never their values (they may be secrets)
            (x.envNames || []).join(', ') || '—',
          ]),
        ),
      );
      for (const select of main.querySelectorAll('select[name="project"]')) mount(select, p.data.map((x) => h('option', { value: x.id }, x.name)));
      mount(memberUser, u.data.map((x) => h('option', { value: x.id }, x.email)));
      mount(changedAgent, a.data.map((x) => h('option', { value: x.id }, x.name)));
    } catch (err) {
      if (!disposed) mount(users, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  }

  load();
  return {
    dispose() {
      disposed = true;
    },
  };
}
