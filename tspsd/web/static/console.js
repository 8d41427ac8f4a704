// console.js - the attendant console: the live calls of every user who
// delegated to me (the server filters by delegation and its scope), with
// the actions granted; a call passed to the attendant pops up here.
import { login, api, events, h, clear, nav } from './api.js';
import { Popup } from './popup.js';

const calls = new Map();
const popup = new Popup(document.getElementById('popup'));
let me = null;

function secs(c) {
  return c.held_until ? Math.max(0, Math.round(c.held_until - Date.now() / 1000 - skew)) : '';
}
let skew = 0;

function draw() {
  const g = clear(document.getElementById('groups'));
  const by = new Map();
  for (const c of calls.values()) {
    if (!by.has(c.user)) by.set(c.user, []);
    by.get(c.user).push(c);
  }
  for (const [user, list] of by) {
    g.append(h('section', { class: 'group', 'data-user': user },
      h('h2', {}, user),
      h('table', { class: 'console' },
        h('thead', {}, h('tr', {}, ['Caller', 'Number', 'Code', 'Decision', 'Left', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((c) => h('tr', { 'data-call': c.call_id },
          h('td', { class: 'caller' }, c.caller_name || 'unknown'),
          h('td', {}, c.caller), h('td', {}, c.code), h('td', {}, c.method),
          h('td', { class: 'left' }, secs(c) === '' ? '' : `${secs(c)} s`),
          h('td', {}, h('button', { type: 'button', onclick: () => popup.show(c.call_id) },
            c.can_act ? 'Handle' : 'View'))))))));
  }
  document.getElementById('no-calls').hidden = calls.size > 0;
}

function onCall(ev) {
  const d = Object.assign({}, ev.decision, { outcome: ev.outcome, call_id: ev.call_id });
  if (ev.kind === 'call.offered' && ev.outcome === 'pending') {
    d.can_act = true;
    calls.set(ev.call_id, d);
  } else {
    calls.delete(ev.call_id);
    popup.update(ev);
    /* A call handed to the attendant pops up on the console. */
    if (ev.kind === 'call.updated' && d.method_kind === 'attendant' && d.user !== me.identity)
      popup.show(ev.call_id).catch(() => {});
  }
  draw();
}

async function main() {
  me = await login();
  nav('/console.html');
  const att = document.getElementById('attending');
  att.textContent = me.attending.length
    ? 'You attend: ' + me.attending.map((d) => `${d.user} (${[d.monitor && 'monitor', d.act && 'act'].filter(Boolean).join(', ')}${d.codes && d.codes.length ? '; codes ' + d.codes.join(', ') : ''})`).join('; ')
    : (me.admin ? 'Admin: every call.' : 'Nobody has delegated to you yet.');
  const r = await api('GET', '/api/calls');
  skew = r.now - Date.now() / 1000;
  for (const c of r.calls) calls.set(c.call_id, c);
  draw();
  setInterval(() => {
    for (const tr of document.querySelectorAll('tr[data-call]')) {
      const c = calls.get(Number(tr.dataset.call));
      if (c) tr.querySelector('.left').textContent = secs(c) === '' ? '' : `${secs(c)} s`;
    }
  }, 1000);
  const st = document.getElementById('stream');
  events({ 'call.offered': onCall, 'call.updated': onCall, 'call.ended': onCall,
    'call.related': (ev) => popup.onRelated(ev) },
    (s) => { st.textContent = s; st.className = 'stream ' + s; });
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
