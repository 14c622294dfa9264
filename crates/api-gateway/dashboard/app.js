// The dashboard: a log-in page, then views by the URL's hash (#/, #/jobs, #/jobs/<id>,
// #/queue, #/admin). Everything goes through the public API as any client's calls do.

import { login, onUnauthorized, session } from './api.js';
import { errorBox, field, h, mount, showError, toast } from './dom.js';
import { Live } from './live.js';
import { overview } from './overview.js';
import { jobList } from './jobs.js';
import { jobPage } from './job.js';
import { submitPage } from './submit.js';
import { adminPage } from './admin.js';

const main = document.getElementById('main');
const header = document.querySelector('header.top');
const liveBadge = document.getElementById('live');
const live = new Live(document.querySelector('meta[name="agentq-events"]').content);
live.onStatus = (status) => {
  liveBadge.textContent = status === 'off' ? 'live updates off' : status;
  liveBadge.dataset.status = status;
};
live.onExpired = () => logout('Your session ended: log in again.');
onUnauthorized.handler = () => logout('Your session ended: log in again.');

let current = null; // the view on screen: {dispose?, onEvent?}
live.listen((event) => current && current.onEvent && current.onEvent(event));

function logout(message) {
  session.clear();
  live.stop();
  if (message) toast(message, 'warn');
  location.hash = '#/login';
  route();
}

document.getElementById('logout').addEventListener('click', () => logout('Logged out.'));

function loginPage() {
  header.hidden = true;
  const error = errorBox();
  const submit = h('button', { type: 'submit' }, 'Log in');
  const form = h(
    'form',
    {
      class: 'card login',
      'aria-labelledby': 'login-title',
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        try {
          const data = new FormData(form);
          await login(data.get('email'), data.get('password'));
          location.hash = '#/';
        } catch (err) {
          showError(error, err.status === 401 ? new Error('Wrong email or password.') : err);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', { id: 'login-title' }, 'agentq'),
    h('p', { class: 'muted' }, 'Log in to watch and run your agent jobs.'),
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    error,
    submit,
  );
  mount(main, form);
  form.querySelector('input').focus();
  return {};
}

const routes = [
  [/^#\/jobs\/([0-9a-f-]{36})$/, (m) => jobPage(main, m[1], live)],
  [/^#\/jobs(?:\?(.*))?$/, (m) => jobList(main, new URLSearchParams(m[1] || ''))],
  [/^#\/queue$/, () => submitPage(main)],
  [/^#\/admin$/, () => adminPage(main)],
  [/^#\/?$/, () => overview(main)],
];

function route() {
  if (current && current.dispose) current.dispose();
  current = null;
  const who = session.get();
  if (!who) {
    current = loginPage();
    return;
  }
  if (location.hash === '#/login') location.hash = '#/';
  header.hidden = false;
  document.getElementById('who').textContent = who.email;
  document.querySelector('[data-admin]').hidden = !who.admin;
  if (!live.token) live.start(who.token);
  const hash = location.hash || '#/';
  for (const a of header.querySelectorAll('nav a')) {
    const target = a.getAttribute('href');
    const here = target === '#/' ? hash === '#/' : hash.startsWith(target);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [pattern, view] of routes) {
    const m = hash.match(pattern);
    if (m) {
      current = view(m);
      main.focus({ preventScroll: true });
      return;
    }
  }
  mount(main, h('section', { class: 'card' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))));
}

window.addEventListener('hashchange', route);
route();

