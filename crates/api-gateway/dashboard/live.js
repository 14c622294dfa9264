// Live updates from the events-broadcaster's WebSocket (/ws): the `notifications` room (every
// event of the projects this user may see) and, while a job's page is open, that job's room
// (its output lines). Each room resumes from the last event it saw (`lastEventId`), so a
// reconnection, or a tab that was hidden, misses nothing the stream still holds. While the
// tab is hidden the socket is closed: a dashboard nobody looks at costs the broadcaster
// nothing.

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15000;
const POLICY_VIOLATION = 1008; // the broadcaster's close code for an expired token

export class Live {
  /// `url`: the broadcaster's ws:// URL ('' when the gateway names none).
  constructor(url) {
    this.url = url;
    this.token = null;
    this.socket = null;
    this.rooms = new Map(); // room -> last event id seen (or null)
    this.listeners = new Set();
    this.retryMs = RETRY_MIN_MS;
    this.timer = null;
    this.onStatus = () => {};
    this.onExpired = () => {};
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.pause();
      else this.connect();
    });
  }

  get enabled() {
    return Boolean(this.url);
  }

  start(token) {
    this.token = token;
    this.rooms.set('notifications', this.rooms.get('notifications') ?? null);
    this.connect();
  }

  stop() {
    this.token = null;
    this.rooms.clear();
    this.close('offline');
  }

  /// fn({event, room, id, data}) for every event; returns the unsubscribe function.
  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  join(room) {
    if (this.rooms.has(room)) return;
    this.rooms.set(room, null);
    this.send({ type: 'subscribe', room });
  }

  leave(room) {
    if (room === 'notifications' || !this.rooms.delete(room)) return;
    this.send({ type: 'unsubscribe', room });
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  connect() {
    if (!this.enabled) return this.onStatus('off');
    if (!this.token || document.hidden || this.socket) return;
    clearTimeout(this.timer);
    this.onStatus('connecting');
    const socket = new WebSocket(`${this.url}${this.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
      this.onStatus('live');
      for (const [room, lastEventId] of this.rooms) {
        this.send(lastEventId ? { type: 'subscribe', room, lastEventId } : { type: 'subscribe', room });
      }
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (close.code === POLICY_VIOLATION) {
        this.onStatus('offline');
        return this.onExpired(close.reason);
      }
      if (!this.token || document.hidden) return;
      this.onStatus('reconnecting');
      this.timer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    };
  }

  pause() {
    this.close('paused');
  }

  close(status) {
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, status);
    this.onStatus(this.enabled ? status : 'off');
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    // after a gap (events trimmed before this client came back) views reload what they show
    if (frame.type === 'gap') frame = { event: 'gap', room: frame.room, data: {} };
    if (!frame.event) return; // subscribed, pong, error: nothing to show
    if (this.rooms.has(frame.room)) this.rooms.set(frame.room, frame.id);
    for (const fn of this.listeners) fn(frame);
  }
}
