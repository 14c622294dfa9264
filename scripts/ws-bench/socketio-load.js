'use strict';
// The Socket.IO load of `just bench ws`: N socket.io-client sockets in this one process, each
// with its own connection (forceNew), WebSocket transport, no reconnection; the same process
// and options against agentq's /socket.io/ and against the Node Socket.IO anchor, so that the
// servers are all that differs. Forked by socketio.js, which it answers over IPC:
//   ready {joined, connectErrors, connectSeconds} once every socket is in its room;
//   arm -> armed; count -> {received, lastRecvAt}; stats -> the latency histogram's figures.
//
//   --url=http://127.0.0.1:PORT --n=N [--token=JWT] [--join=EVENT --room=ROOM] --event=NAME
//
// Latency = receive time - send time, where the send time is the event's `ts` (the anchor's
// server stamps it just before emitting) or the milliseconds of agentq's `eventId` (Redis's
// clock at the XADD: up to 1 ms early, which counts against agentq). Same host, same clock.
// The anchor stamps `ts` when its event loop gets to the emit, so a backlog in its server is
// not in that figure; agentq's XADD happens on schedule, so a backlog in the broadcaster is.
// So a second figure measures both from the moment each event was due (the open-loop
// schedule, event k at t0 + k * period): the anchor's t0 is event 0's `ts` (its server emits
// event 0 at once), agentq's is the t0 the orchestrator scheduled (`arm`), its k the tail of
// the event's `jobId`.
const { io } = require('socket.io-client');
const { performance } = require('perf_hooks');

const now = () => performance.timeOrigin + performance.now();
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = a.match(/^--([^=]+)=(.*)$/);
    return m ? [m[1], m[2]] : [a, ''];
  }),
);
const N = Number(args.n);
const BATCH = 200; // connections opened at once

// 10 µs bins up to 2 s, then 1 ms bins up to 120 s
const FINE = 200000;
const COARSE = 118000;
class Histogram {
  constructor() {
    this.bins = new Uint32Array(FINE + COARSE + 1);
    this.count = 0;
    this.max = 0;
  }
  record(ms) {
    const bin = ms < 0 ? 0 : ms < 2000 ? Math.floor(ms * 100) : Math.min(FINE + COARSE, FINE + Math.floor(ms - 2000));
    this.bins[bin]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }
  percentile(p) {
    const target = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let bin = 0; bin < this.bins.length; bin++) {
      seen += this.bins[bin];
      if (seen >= target) return bin < FINE ? (bin + 1) / 100 : 2000 + (bin - FINE + 1);
    }
    return null;
  }
  figures() {
    return { p50: this.percentile(50), p99: this.percentile(99), max: this.max };
  }
}
const fromSend = new Histogram();
const fromDue = new Histogram();

const sentAt = (data) =>
  typeof data.ts === 'number' ? data.ts : typeof data.eventId === 'string' ? Number(data.eventId.split('-')[0]) : null;

// the schedule, from `arm`: period (ms) and, for agentq, t0
let period = null;
let t0 = null;
function dueAt(data) {
  if (typeof data.seq === 'number') {
    if (t0 === null && data.seq === 0) t0 = data.ts;
    return t0 === null ? null : t0 + data.seq * period;
  }
  if (typeof data.jobId === 'string' && t0 !== null) return t0 + parseInt(data.jobId.slice(-12), 16) * period;
  return null;
}

let received = 0;
let lastRecvAt = null;
let armed = false;
let disconnects = 0;
let connectErrors = 0;
const sockets = [];

function connectOne() {
  return new Promise((resolve) => {
    const options = { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 60000 };
    if (args.token) options.auth = { token: args.token };
    const socket = io(args.url, options);
    sockets.push(socket);
    let settled = false;
    const settle = (ok) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    socket.on('connect', () => {
      if (args.join) socket.emit(args.join, args.room, () => settle(true));
      else settle(true);
    });
    socket.on('connect_error', () => {
      connectErrors++;
      settle(false);
    });
    socket.on('disconnect', () => {
      if (armed) disconnects++;
    });
    socket.on(args.event, (data) => {
      const at = now();
      fromSend.record(at - sentAt(data));
      const due = dueAt(data);
      if (due !== null) fromDue.record(at - due);
      received++;
      lastRecvAt = at;
    });
  });
}

async function connectAll() {
  const started = now();
  let joined = 0;
  for (let first = 0; first < N; first += BATCH) {
    const batch = [];
    for (let i = first; i < Math.min(N, first + BATCH); i++) batch.push(connectOne());
    joined += (await Promise.all(batch)).filter(Boolean).length;
  }
  return { joined, connectErrors, connectSeconds: (now() - started) / 1000 };
}

process.on('disconnect', () => process.exit(1)); // the orchestrator is gone
process.on('message', (m) => {
  if (m.type === 'arm') {
    armed = true;
    period = m.period;
    t0 = m.t0 ?? null;
    process.send({ type: 'armed' });
  } else if (m.type === 'count') {
    process.send({ type: 'count', received, lastRecvAt });
  } else if (m.type === 'stats') {
    process.send({
      type: 'stats',
      received,
      disconnects,
      latencyMs: fromSend.figures(),
      dueLatencyMs: fromDue.count === received ? fromDue.figures() : null,
    });
  } else if (m.type === 'exit') {
    for (const socket of sockets) socket.close();
    setTimeout(() => process.exit(0), 500);
  }
});

connectAll().then((r) => process.send({ type: 'ready', ...r }));
