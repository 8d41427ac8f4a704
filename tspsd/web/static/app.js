// app.js - the calls page: live calls, the pop-up for each offered call.
import { login, api, events, h, clear, nav } from './api.js';
import { Popup, callRow } from './popup.js';

const calls = new Map();
const recent = [];
const popup = new Popup(document.getElementById('popup'));

function draw() {
  const ul = clear(document.getElementById('calls'));
  for (const c of calls.values()) ul.append(callRow(c, (id) => popup.show(id)));
  document.getElementById('no-calls').hidden = calls.size > 0;
  const ru = clear(document.getElementById('recent'));
  for (const c of recent.slice(0, 20)) ru.append(callRow(c, (id) => popup.show(id)));
}

function onCall(ev) {
  const d = Object.assign({}, ev.decision, { outcome: ev.outcome, call_id: ev.call_id });
  if (ev.kind === 'call.offered' && ev.outcome === 'pending') {
    calls.set(ev.call_id, d);
    /* Pop up: only calls to me (an attendant's calls are on the console). */
    if (d.user === window.tspsMe.identity || !window.tspsMe.attending.length) {
      popup.show(ev.call_id).catch(() => {});
      document.title = '📞 ' + (d.caller_name || d.caller || 'call') + ' — tsps';
    }
  } else {
    if (ev.kind === 'call.ended' || ev.outcome !== 'pending') calls.delete(ev.call_id);
    if (ev.kind === 'call.offered') recent.unshift(d);
    else {
      const r = recent.find((x) => x.call_id === ev.call_id);
      if (r) Object.assign(r, d); else if (ev.kind === 'call.ended') recent.unshift(d);
    }
    popup.update(ev);
    if (!calls.size) document.title = 'tsps — calls';
  }
  draw();
}

async function main() {
  const me = await login();
  window.tspsMe = me;
  nav('/');
  const r = await api('GET', '/api/calls');
  for (const c of r.calls) calls.set(c.call_id, c);
  draw();
  const st = document.getElementById('stream');
  events({ 'call.offered': onCall, 'call.updated': onCall, 'call.ended': onCall },
    (s) => { st.textContent = s; st.className = 'stream ' + s; });
  const want = new URLSearchParams(location.search).get('call');
  if (want) popup.show(want).catch(() => {});
  else if (calls.size) popup.show([...calls.keys()][0]).catch(() => {});
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
