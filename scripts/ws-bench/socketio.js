'use strict';
// `just bench ws`, Socket.IO part: agentq's /socket.io/ against the Node Socket.IO anchor
// (../shared/anchors/socketio-fanout, its server.js unchanged), the same scenarios as the /ws
// bench, with the same load process (socketio-load.js) for both, runs interleaved: for each
// scenario, agentq then the anchor, RUNS times.
//
//   node socketio.js --bin=<release dir> --anchor=<anchor copy with node_modules> \
//        [--runs=3] [--seconds=20] [--idle=5] [--scenarios=1000@100,5000@10,10000@10] --out=FILE
//
// Per run, as the anchor's own bench measures it: server RSS idle with N connected (median of
// the last 3 s of 5 s) and while broadcasting (every 250 ms), server CPU over the window, the
// share of scheduled (event, client) pairs received by the window's end ("on time") and after
// up to 30 s of drain, latency p50/p99/max. agentq's events enter the real way, an XADD to the
// queue's events stream (the broadcaster reads it), on the same open-loop schedule the anchor's
// server emits on; its clients are all in `notifications` (every socket is, from the start).
// The broadcaster runs on one worker thread (AGENTQ_BENCH_SERVER_THREADS, default 1): the
// anchor's server is one Node thread, and the load process needs the machine's other core.
const { fork, spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const Redis = require('ioredis');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = a.match(/^--([^=]+)=(.*)$/);
    return m ? [m[1], m[2]] : [a, ''];
  }),
);
const RUNS = Number(args.runs || 3);
const SECONDS = Number(args.seconds || 20);
const IDLE = Number(args.idle || 5);
const DRAIN_MAX = 30;
// `--scenarios=1000@100,5000@10`: subscribers @ events per second
const SCENARIOS = String(args.scenarios || '1000@100,5000@10,10000@10')
  .split(',')
  .map((s) => s.split('@').map(Number))
  .map(([n, rate]) => ({ n, rate }));
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SECRET = 'ws-bench-secret-that-is-long-enough-0123456789';
// agentq's schedule starts this long after `arm`, so the load process knows t0 before event 0
const START_DELAY_MS = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (values) => {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};
function rssMiB(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/// A forked node process answering typed IPC messages.
function ipcChild(file, childArgs, cwd) {
  const child = fork(file, childArgs, { cwd, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = [];
  child.on('message', (m) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    pid: child.pid,
    exited,
    ask(message, type, timeoutMs = 600000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file}: no ${type} in ${timeoutMs} ms`)), timeoutMs);
        waiting.push({ type, resolve: (m) => (clearTimeout(timer), resolve(m)) });
        if (message) child.send(message);
      });
    },
    async stop() {
      try {
        child.send({ type: 'exit' });
      } catch {}
      if (!(await Promise.race([exited, sleep(15000).then(() => false)]))) child.kill('SIGKILL');
    },
  };
}

/// The anchor's server.js: it emits to its room itself when asked.
async function startAnchor() {
  const dir = path.resolve(args.anchor);
  const server = ipcChild(path.join(dir, 'server.js'), [], dir);
  const { port } = await server.ask(null, 'listening');
  return {
    pid: server.pid,
    url: `http://127.0.0.1:${port}`,
    load: ['--join=join', '--room=dashboard', '--event=job'],
    async broadcast(durationMs, periodMs) {
      const done = await server.ask({ type: 'broadcast', durationMs, periodMs }, 'broadcastDone', durationMs + 120000);
      return { scheduled: done.scheduled, emitted: done.emitted };
    },
    stop: () => server.stop(),
  };
}

/// agentq's release events-broadcaster on a queue and SQLite file of its own, with an admin
/// made by the api-gateway's admin commands; events are XADDed to its queue's stream.
async function startAgentq() {
  const tag = crypto.randomUUID();
  const file = path.join(os.tmpdir(), `agentq-sio-bench-${tag}.db`);
  const queue = `sio-bench-${tag}`;
  const env = {
    PATH: process.env.PATH,
    REDIS_URL,
    DATABASE_URL: `sqlite://${file}?mode=rwc`,
    AGENTQ_QUEUE: queue,
    AGENTQ_JWT_SECRET: SECRET,
    AGENTQ_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
    AGENTQ_WS_ADDR: '127.0.0.1:0',
    RUST_LOG: 'warn',
    // one core, as the single-threaded Node server has; the load process needs the other
    // (with both, the broadcaster took CPU from the clients and their latency grew: p99 381
    // against 233 ms at 1,000 x 100/s in a side-by-side try)
    TOKIO_WORKER_THREADS: process.env.AGENTQ_BENCH_SERVER_THREADS || '1',
  };
  const gateway = path.join(args.bin, 'api-gateway');
  execFileSync(gateway, ['user', 'create', '--email', 'bench@example.com', '--password-stdin', '--admin'], {
    env,
    input: 'bench-password-0123456789',
  });
  const token = execFileSync(gateway, ['token', '--email', 'bench@example.com', '--ttl', '2h'], { env }).toString().trim();
  const child = spawn(path.join(args.bin, 'events-broadcaster'), [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = line.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`events-broadcaster exited (${code})`)));
  });
  const redis = new Redis(REDIS_URL);
  const events = `aq:{${queue}}:events`;
  return {
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    load: [`--token=${token}`, '--event=agent_job_progress'],
    // open loop, as the anchor's server: event k is due at t0 + k * period, one per macrotask;
    // the load process is told t0 (`arm`) and reads k from the tail of the event's job id
    startsAt: () => performance.timeOrigin + performance.now() + START_DELAY_MS,
    broadcast(durationMs, periodMs, startsAt) {
      const scheduled = Math.round(durationMs / periodMs);
      const writes = [];
      return new Promise((resolve) => {
        let k = 0;
        const t0 = startsAt - performance.timeOrigin;
        const tick = () => {
          const t = performance.now();
          if (k >= scheduled || t - t0 >= durationMs) {
            return void Promise.allSettled(writes).then(() => resolve({ scheduled, emitted: k }));
          }
          const due = t0 + k * periodMs;
          if (t < due) return void setTimeout(tick, due - t);
          const job = `00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`;
          writes.push(
            redis.xadd(events, '*', 'event', 'agent_job_progress', 'job', job, 'project', 1, 'task', 1, 'progress', k % 100),
          );
          k++;
          setImmediate(tick);
        };
        tick();
      });
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('exit', resolve));
      await redis.del(events);
      redis.disconnect();
      fs.rmSync(file, { force: true });
    },
  };
}

async function runOnce(target, { n, rate }) {
  const server = target === 'agentq' ? await startAgentq() : await startAnchor();
  const client = ipcChild(path.join(__dirname, 'socketio-load.js'), [`--url=${server.url}`, `--n=${n}`, ...server.load]);
  try {
    const ready = await client.ask(null, 'ready');
    const idle = [];
    for (let i = 0; i < (IDLE * 1000) / 250; i++) {
      await sleep(250);
      idle.push(rssMiB(server.pid));
    }
    const startsAt = server.startsAt ? server.startsAt() : null;
    await client.ask({ type: 'arm', period: 1000 / rate, t0: startsAt }, 'armed');
    const cpu0 = cpuSeconds(server.pid);
    const t0 = Date.now();
    let done = null;
    const broadcasting = server.broadcast(SECONDS * 1000, 1000 / rate, startsAt).then((d) => (done = d));
    const samples = [];
    while (!done) {
      await sleep(250);
      samples.push(rssMiB(server.pid));
    }
    await broadcasting;
    const wall = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pid) - cpu0;
    const atEnd = await client.ask({ type: 'count' }, 'count');
    const scheduledPairs = done.scheduled * ready.joined;
    const expected = done.emitted * ready.joined;
    // drain: until all arrived, nothing arrived for 3 s, or DRAIN_MAX s
    let count = atEnd;
    let last = count.received;
    let changed = Date.now();
    const drainStart = Date.now();
    while (count.received < expected && Date.now() - drainStart < DRAIN_MAX * 1000 && Date.now() - changed < 3000) {
      await sleep(500);
      count = await client.ask({ type: 'count' }, 'count');
      if (count.received !== last) [last, changed] = [count.received, Date.now()];
    }
    const stats = await client.ask({ type: 'stats' }, 'stats');
    return {
      target,
      n,
      rate,
      joined: ready.joined,
      connectSeconds: ready.connectSeconds,
      scheduled: done.scheduled,
      emitted: done.emitted,
      onTime: atEnd.received / scheduledPairs,
      delivered: stats.received / scheduledPairs,
      latencyMs: stats.latencyMs,
      dueLatencyMs: stats.dueLatencyMs,
      disconnects: stats.disconnects,
      idleRssMiB: median(idle.slice(-Math.round(3000 / 250))),
      broadcastRssMaxMiB: Math.max(...samples.filter((x) => x !== null)),
      serverCpuPct: (100 * cpu) / wall,
    };
  } finally {
    await client.stop();
    await server.stop();
  }
}

async function main() {
  const runs = [];
  for (const scenario of SCENARIOS) {
    for (let run = 1; run <= RUNS; run++) {
      for (const target of ['agentq', 'anchor']) {
        const r = await runOnce(target, scenario);
        const f = (x, d = 1) => (x == null ? '-' : Number(x).toFixed(d));
        console.error(
          `[${target} N=${r.n} @${r.rate}/s run ${run}/${RUNS}] joined=${r.joined} on time ${f(100 * r.onTime, 2)}% ` +
            `delivered ${f(100 * r.delivered, 2)}% p50=${f(r.latencyMs.p50, 2)} p99=${f(r.latencyMs.p99, 2)} ms ` +
            `p99 from due=${f(r.dueLatencyMs?.p99, 2)} ms ` +
            `RSS idle/bcast=${f(r.idleRssMiB)}/${f(r.broadcastRssMaxMiB)} MiB cpu=${f(r.serverCpuPct, 0)}%`,
        );
        runs.push({ run, ...r });
      }
    }
  }
  fs.writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, runs }, null, 2));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
