// api.js - fetch with the session's CSRF token, the event stream, and a DOM
// helper that only ever creates text nodes for data (never innerHTML).

let csrf = '';
export let me = null;

export function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

export class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

export async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    opt.headers['X-CSRF-Token'] = csrf;
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opt);
  let j = {};
  try { j = await r.json(); } catch (_) { /* empty */ }
  if (r.status === 401 && !location.pathname.startsWith('/login')) {
    location.href = '/login.html';
    throw new ApiError(401, 'not logged in');
  }
  if (!r.ok) throw new ApiError(r.status, j.error || r.statusText);
  return j;
}

/** Call one control-protocol request (same handlers as tspsctl). */
export function rpc(name, body) { return api('POST', '/api/rpc/' + name, body); }

export async function login() {
  me = await api('GET', '/api/me');
  csrf = me.csrf;
  return me;
}

export function setCsrf(t) { csrf = t; }

/* One event stream per page, shared by the page and the nav's badge. */
let es = null;
const esStates = [];

function stream() {
  if (es) return es;
  es = new EventSource('/api/events');
  es.onopen = () => { for (const f of esStates) f('live'); };
  es.onerror = () => {
    for (const f of esStates) f('reconnecting');
    // Refused for good (401: logged out, idle, revoked): api() sends the
    // page to the login form.
    if (es.readyState === EventSource.CLOSED) api('GET', '/api/me').catch(() => {});
  };
  return es;
}

/** Subscribe to /api/events; handlers by event kind. Reconnects itself. */
export function events(handlers, onState) {
  const s = stream();
  for (const [kind, fn] of Object.entries(handlers))
    s.addEventListener(kind, (ev) => fn(JSON.parse(ev.data), ev));
  if (onState) {
    esStates.push(onState);
    if (s.readyState === EventSource.OPEN) onState('live');
  }
  return s;
}

export function fmtTime(s) {
  if (!s) return '';
  return new Date(s * 1000).toLocaleString();
}

export function toast(msg, bad) {
  let t = document.getElementById('toast');
  if (!t) {
    t = h('div', { id: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(t);
  }
  t.textContent = msg;
  t.className = bad ? 'bad show' : 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 4000);
}

/* The new-message count of the session's own mailbox, on the nav's Inbox
 * link: read once, then kept current by voicemail events. */
function setBadge(n) {
  const b = document.getElementById('vm-badge');
  if (!b) return;
  b.textContent = String(n);
  b.hidden = !(n > 0);
  const a = document.getElementById('nav-inbox');
  if (a) a.setAttribute('aria-label', n > 0 ? `Inbox, ${n} new` : 'Inbox');
}

function badge() {
  api('GET', '/api/voicemail').then((r) => {
    setBadge((r.voicemail || []).filter((m) => !m.heard).length);
  }).catch(() => { /* no right or no server: no badge */ });
  const on = (d) => { if (me && d.user === me.identity) setBadge(d.new); };
  events({ 'voicemail.new': on, 'voicemail.changed': on });
}

export function nav(active) {
  /* Each identity sees the pages it can use: the call log, the inbox and
   * settings for users (and admins), the console for attendants (and
   * admins). */
  const user = !me || me.is_user || me.admin;
  const attendant = !me || me.admin || (me.attending || []).length > 0;
  const inbox = !me || me.is_user || attendant;
  const links = [['/', 'Calls'], user && ['/log.html', 'Call log'],
    inbox && ['/inbox.html', 'Inbox'],
    attendant && ['/console.html', 'Attendant console'],
    user ? ['/settings.html', 'Settings'] : ['/settings.html', 'Password']].filter(Boolean);
  const n = document.getElementById('nav');
  if (!n) return;
  clear(n);
  for (const [href, label] of links) {
    const a = h('a', { href, 'aria-current': href === active ? 'page' : null }, label);
    if (href === '/inbox.html') {
      a.id = 'nav-inbox';
      a.append(' ', h('span', { id: 'vm-badge', class: 'badge', hidden: true }));
    }
    n.append(a);
  }
  n.append(h('span', { class: 'who' }, me ? me.identity : ''));
  n.append(h('button', {
    type: 'button', class: 'link',
    onclick: async () => { await api('POST', '/api/logout'); location.href = '/login.html'; },
  }, 'Log out'));
  if (me && me.is_user) badge();
}
