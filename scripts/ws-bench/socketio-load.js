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
const histogram = new Uint32Array(FINE + COARSE + 1);
const record = (ms) => {
  const bin = ms < 0 ? 0 : ms < 2000 ? Math.floor(ms * 100) : Math.min(FINE + COARSE, FINE + Math.floor(ms - 2000));
  histogram[bin]++;
};
const binUpper = (bin) => (bin < FINE ? (bin + 1) / 100 : 2000 + (bin - FINE + 1));
function percentile(p, total) {
  const target = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    seen += histogram[bin];
    if (seen >= target) return binUpper(bin);
  }
  return null;
}

const sentAt = (data) =>
  typeof data.ts === 'number' ? data.ts : typeof data.eventId === 'string' ? Number(data.eventId.split('-')[0]) : null;

let received = 0;
let maxLatency = 0;
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
      const latency = at - sentAt(data);
      record(latency);
      if (latency > maxLatency) maxLatency = latency;
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
    process.send({ type: 'armed' });
  } else if (m.type === 'count') {
    process.send({ type: 'count', received, lastRecvAt });
  } else if (m.type === 'stats') {
    process.send({
      type: 'stats',
      received,
      disconnects,
      latencyMs: { p50: percentile(50, received), p99: percentile(99, received), max: maxLatency },
    });
  } else if (m.type === 'exit') {
    for (const socket of sockets) socket.close();
    setTimeout(() => process.exit(0), 500);
  }
});

connectAll().then((r) => process.send({ type: 'ready', ...r }));
