'use strict';
// `just bench dashboard`: the dashboard's first load with 10,000 jobs in the database, in
// Debian's headless Chromium (driven over WebDriver by chromedriver, plain HTTP from here).
//
//   node scripts/dashboard-bench.js --bin=<release dir> [--jobs=10000] [--loads=5] --out=FILE
//
// A release api-gateway on a SQLite file of its own gets `--jobs` jobs through its API (no
// worker runs, so they wait). Then, `--loads` times, a fresh browser profile opens
// `/#/jobs` already logged in (the token in sessionStorage, as after the login form) and the
// page's own performance timing gives: bytes transferred (document, styles, scripts, API
// calls: `transferSize` of every entry) and the time from navigation start to the first rows
// of the job list on screen. The gateway's RSS is read before the first load and after the
// last: what serving the dashboard costs it.
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const readline = require('readline');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = a.match(/^--([^=]+)=(.*)$/);
    return m ? [m[1], m[2]] : [a, ''];
  }),
);
const JOBS = Number(args.jobs || 10000);
const LOADS = Number(args.loads || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

function rssMiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) / 1024;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startGateway(env) {
  const child = spawn(path.join(args.bin, 'api-gateway'), ['serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const addr = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = line.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`api-gateway exited (${code})`)));
  });
  return { child, url: `http://${addr}` };
}

async function call(url, { method = 'GET', token, body } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const reply = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  const json = await reply.json();
  if (!reply.ok) throw new Error(`${method} ${url}: ${reply.status} ${JSON.stringify(json)}`);
  return json;
}

/// The smallest WebDriver client: a session, navigation, scripts.
async function webdriver(port) {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/status`)).ok) break;
    } catch {}
    await sleep(100);
  }
  const send = async (method, url, body) => {
    const reply = await fetch(`${base}${url}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    const json = await reply.json();
    if (!reply.ok) throw new Error(`WebDriver ${url}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  return {
    async session(profile) {
      const value = await send('POST', '/session', {
        capabilities: {
          alwaysMatch: {
            browserName: 'chrome',
            'goog:chromeOptions': {
              binary: '/usr/bin/chromium',
              args: [
                '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--disable-quic', '--no-first-run', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--window-size=1280,900',
                `--user-data-dir=${profile}`,
              ],
            },
          },
        },
      });
      const id = value.sessionId;
      return {
        goto: (url) => send('POST', `/session/${id}/url`, { url }),
        run: (script, scriptArgs = []) => send('POST', `/session/${id}/execute/sync`, { script, args: scriptArgs }),
        close: () => send('DELETE', `/session/${id}`),
      };
    },
  };
}

async function main() {
  const tag = crypto.randomUUID();
  const db = path.join(os.tmpdir(), `agentq-dashboard-bench-${tag}.db`);
  const env = {
    PATH: process.env.PATH,
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    DATABASE_URL: `sqlite://${db}?mode=rwc`,
    AGENTQ_QUEUE: `dashboard-bench-${tag}`,
    AGENTQ_JWT_SECRET: 'dashboard-bench-secret-that-is-long-enough-0123',
    AGENTQ_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
    AGENTQ_API_ADDR: '127.0.0.1:0',
    AGENTQ_ADMIN_EMAIL: 'bench@example.com',
    AGENTQ_ADMIN_PASSWORD: 'bench-password-0123456789',
    RUST_LOG: 'warn',
  };
  const gateway = await startGateway(env);
  const driverPort = await freePort();
  const driver = spawn('/usr/bin/chromedriver', [`--port=${driverPort}`], { stdio: 'ignore', detached: true });
  try {
    const login = await call(`${gateway.url}/api/auth/login`, {
      method: 'POST',
      body: { email: env.AGENTQ_ADMIN_EMAIL, password: env.AGENTQ_ADMIN_PASSWORD },
    });
    const token = login.data.token;
    const project = await call(`${gateway.url}/api/projects`, { method: 'POST', token, body: { name: 'Bench' } });
    const task = await call(`${gateway.url}/api/projects/${project.data.id}/tasks`, {
      method: 'POST',
      token,
      body: { code: 'BENCH-1', title: 'bench' },
    });
    const agent = await call(`${gateway.url}/api/agents`, {
      method: 'POST',
      token,
      body: { name: 'bench-agent', kind: 'command', command: ['true'] },
    });
    const started = Date.now();
    for (let first = 0; first < JOBS; first += 100) {
      const batch = [];
      for (let i = first; i < Math.min(JOBS, first + 100); i++) {
        batch.push(
          call(`${gateway.url}/api/agent-execution/queue`, {
            method: 'POST',
            token,
            body: { taskId: task.data.id, agentId: agent.data.id },
          }),
        );
      }
      await Promise.all(batch);
    }
    console.error(`queued ${JOBS} jobs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await sleep(1000);
    const rssBefore = rssMiB(gateway.child.pid);
    const wd = await webdriver(driverPort);
    const loads = [];
    for (let i = 0; i < LOADS; i++) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentq-dashboard-bench-profile-'));
      const browser = await wd.session(profile);
      try {
        // the token as the login form leaves it, then a cold load of the job list
        await browser.goto(`${gateway.url}/ui/favicon.svg`);
        await browser.run(
          "sessionStorage.setItem('agentq.session', JSON.stringify({token: arguments[0], email: arguments[1], admin: true}));",
          [token, env.AGENTQ_ADMIN_EMAIL],
        );
        await browser.run('performance.clearResourceTimings();');
        await browser.goto(`${gateway.url}/#/jobs`);
        let figures = null;
        for (let t = 0; t < 600 && !figures; t++) {
          figures = await browser.run(`
            const rows = document.querySelectorAll('tr[data-job]').length;
            if (!rows) return null;
            const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
            return {
              rows,
              firstListMs: performance.now(),
              transferredBytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
              requests: entries.length,
              byType: entries.map((e) => [e.name.replace(location.origin, ''), e.transferSize]),
            };`);
          if (!figures) await sleep(20);
        }
        if (!figures) throw new Error('the job list never showed');
        loads.push(figures);
        console.error(
          `load ${i + 1}/${LOADS}: ${figures.rows} rows after ${figures.firstListMs.toFixed(0)} ms, ` +
            `${(figures.transferredBytes / 1024).toFixed(1)} KiB in ${figures.requests} requests`,
        );
      } finally {
        await browser.close();
        fs.rmSync(profile, { recursive: true, force: true });
      }
    }
    const rssAfter = rssMiB(gateway.child.pid);
    const result = {
      date: new Date().toISOString(),
      jobs: JOBS,
      loads,
      medianFirstListMs: median(loads.map((l) => l.firstListMs)),
      medianTransferredKiB: median(loads.map((l) => l.transferredBytes)) / 1024,
      gatewayRssMiB: { before: rssBefore, after: rssAfter, growth: rssAfter - rssBefore },
    };
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, JSON.stringify(result, null, 2));
    console.log(
      `dashboard, ${JOBS} jobs: first list ${result.medianFirstListMs.toFixed(0)} ms (median of ${LOADS}), ` +
        `${result.medianTransferredKiB.toFixed(1)} KiB transferred; gateway RSS ${rssBefore.toFixed(1)} -> ` +
        `${rssAfter.toFixed(1)} MiB (+${(rssAfter - rssBefore).toFixed(1)}); wrote ${args.out}`,
    );
  } finally {
    try {
      process.kill(-driver.pid, 'SIGKILL');
    } catch {}
    gateway.child.kill('SIGTERM');
    await new Promise((r) => gateway.child.on('exit', r));
    fs.rmSync(db, { force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
