// The agentq API, as any client calls it: a bearer token from POST /api/auth/login, kept in
// sessionStorage (this tab only; gone when the tab closes).

const KEY = 'agentq.session';

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY));
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(KEY, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const details = body && body.details;
    let message = (body && body.error) || `HTTP ${status}`;
    if (details && typeof details === 'object') {
      const parts = Object.entries(details).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
      if (parts.length) message += ` (${parts.join('; ')})`;
    } else if (typeof details === 'string') {
      message += ` (${details})`;
    }
    super(message);
    this.status = status;
  }
}

/// Called when the API says the token is no longer good (401).
export const onUnauthorized = { handler: () => {} };

export async function api(path, { method = 'GET', body, token } = {}) {
  const current = token || session.get()?.token;
  const headers = { Accept: 'application/json' };
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!reply.ok) {
    if (reply.status === 401 && !token && path !== '/api/auth/login') onUnauthorized.handler();
    throw new ApiError(reply.status, json);
  }
  return json;
}

export async function login(email, password) {
  const answer = await api('/api/auth/login', { method: 'POST', body: { email, password } });
  const token = answer.data.token;
  // an admin may list users; a member gets 403: that is how the page knows what to show
  let admin = false;
  try {
    await api('/api/users', { token });
    admin = true;
  } catch (err) {
    if (err.status !== 403) throw err;
  }
  const value = { token, email, admin, expiresAt: answer.data.expiresAt };
  session.set(value);
  return value;
}

/// Query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
