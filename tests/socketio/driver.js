'use strict';
// Drives real socket.io-client sockets for the end-to-end tests (tests/e2e/socketio.rs).
// Commands come as JSON lines on stdin; everything the sockets see goes out as JSON lines on
// stdout, each naming the socket (`id`) it happened to.
//
//   {"op":"connect","id":"a","url":"http://127.0.0.1:8081","options":{…},"resume":true}
//       options go to io() as they are (auth, transports, extraHeaders, query, …); with
//       "resume", auth is a function that adds the last eventId this socket received, so that
//       a reconnection resumes where it stopped (as a dashboard would do it).
//   {"op":"emit","id":"a","event":"subscribe","args":["project:7"],"tag":"t1"}
//       prints {"on":"ack","tag":"t1","data":…} when the server acknowledges.
//   {"op":"stall","id":"a"}   stops reading from the socket's TCP connection (a stuck client)
//   {"op":"close","id":"a"}
//
// Printed: connect (with the transport the connection opened with), upgrade, connect_error (with the message),
// disconnect (with the reason), and {"on":"event","event":…,"data":…} for every server event.
const readline = require('readline');
const { io } = require('socket.io-client');

const sockets = new Map();
const lastEventId = new Map();
const print = (id, on, fields) => process.stdout.write(JSON.stringify({ id, on, ...fields }) + '\n');

function connect({ id, url, options = {}, resume = false }) {
  const opts = { forceNew: true, ...options };
  if (resume) {
    const auth = options.auth || {};
    opts.auth = (cb) => cb(lastEventId.has(id) ? { ...auth, lastEventId: lastEventId.get(id) } : auth);
  }
  const socket = io(url, opts);
  sockets.set(id, socket);
  let opened = null;
  // attached while the engine opens, before it probes for an upgrade
  socket.io.on('open', () => {
    const engine = socket.io.engine;
    opened = engine.transport.name;
    engine.on('upgrade', (transport) => print(id, 'upgrade', { transport: transport.name }));
  });
  socket.on('connect', () => print(id, 'connect', { opened }));
  socket.on('connect_error', (err) => print(id, 'connect_error', { message: err.message }));
  socket.on('disconnect', (reason) => print(id, 'disconnect', { reason }));
  socket.onAny((event, data) => {
    if (data && typeof data.eventId === 'string') lastEventId.set(id, data.eventId);
    print(id, 'event', { event, data });
  });
}

function command(line) {
  const cmd = JSON.parse(line);
  const socket = sockets.get(cmd.id);
  switch (cmd.op) {
    case 'connect':
      return connect(cmd);
    case 'emit':
      return socket
        .timeout(10000)
        .emit(cmd.event, ...(cmd.args || []), (err, data) =>
          print(cmd.id, err ? 'ack_timeout' : 'ack', { tag: cmd.tag, data }),
        );
    case 'stall':
      // the WebSocket transport's TCP socket (the `ws` package's): nothing more is read
      return socket.io.engine.transport.ws._socket.pause();
    case 'close':
      return socket.close();
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    command(line);
  } catch (err) {
    print(null, 'driver_error', { message: String(err && err.message) });
  }
});
process.stdin.on('end', () => process.exit(0));
