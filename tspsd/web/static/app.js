// app.js - the calls page: every call to me pops up (held ones first, then
// ringing, then missed), a desktop notification and an optional ring sound
// for each new call, the count in the tab title and favicon; earlier calls
// come from the durable history, so a reload keeps them.
import { login, api, rpc, events, h, clear, nav } from './api.js';
import { Popup, callRow } from './popup.js';
import { stateWords, callerHeading, sentence } from './words.js';

const calls = new Map(); /* call_id -> call (decision + outcome) */
const popup = new Popup(document.getElementById('popup'));
const PREFS = 'tsps.calls.prefs';
let prefs = { notify: true, sound: false };
let seen = new Set(); /* call ids already notified */

function loadPrefs() {
  try { Object.assign(prefs, JSON.parse(localStorage.getItem(PREFS) || '{}')); } catch (_) { /* defaults */ }
}
function savePrefs() { localStorage.setItem(PREFS, JSON.stringify(prefs)); }

/** Sort rank: held (0), ringing (1), missed (2), the rest (3). */
function rank(c) {
  const cls = stateWords(c)[1];
  return cls === 'pending' ? 0 : cls === 'ringing' ? 1 : cls === 'missed' ? 2 : 3;
}
function ordered() {
  return [...calls.values()].sort((a, b) => rank(a) - rank(b) || (b.start || b.at || 0) - (a.start || a.at || 0));
}
function waiting() { return [...calls.values()].filter((c) => rank(c) <= 1).length; }

function favicon(n) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="${n ? '#b3261e' : '#0b5fff'}"/>` +
    `<text x="16" y="23" font-size="${n > 9 ? 16 : 20}" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">${n ? Math.min(n, 99) : 't'}</text></svg>`;
  let l = document.querySelector('link[rel="icon"]');
  if (!l) { l = h('link', { rel: 'icon', type: 'image/svg+xml' }); document.head.append(l); }
  l.href = 'data:image/svg+xml,' + encodeURIComponent(svg);
}

function draw() {
  const now = ordered();
  const live = now.filter((c) => rank(c) <= 2);
  const earlier = now.filter((c) => rank(c) > 2).slice(0, 20);
  const ul = clear(document.getElementById('calls'));
  for (const c of live) ul.append(callRow(c, (id) => popup.show(id)));
  document.getElementById('no-calls').hidden = live.length > 0;
  const ru = clear(document.getElementById('recent'));
  for (const c of earlier) ru.append(callRow(c, (id) => popup.show(id)));
  const n = waiting();
  document.title = (n ? `(${n}) ` : '') + 'tsps — calls';
  document.getElementById('calls').dataset.count = String(n);
  favicon(n);
}

let ctx = null;
function ring() {
  if (!prefs.sound) return;
  try {
    ctx = ctx || new AudioContext();
    const t = ctx.currentTime;
    for (const [i, f] of [[0, 880], [1, 660]]) {
      const o = ctx.createOscillator(); const g = ctx.createGain();
      o.frequency.value = f; g.gain.value = 0.08;
      o.connect(g).connect(ctx.destination);
      o.start(t + i * 0.25); o.stop(t + i * 0.25 + 0.2);
    }
  } catch (_) { /* no audio: silent */ }
}

function notify(c) {
  if (seen.has(c.call_id)) return;
  seen.add(c.call_id);
  ring();
  if (!prefs.notify || !('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(callerHeading(c), { body: sentence(c), tag: 'tsps-call-' + c.call_id });
    n.onclick = () => { window.focus(); popup.show(c.call_id).catch(() => {}); n.close(); };
  } catch (_) { /* e.g. a service worker is required: ignore */ }
}

function mine(d) { return d.user === window.tspsMe.identity || !window.tspsMe.attending.length; }

function onCall(ev) {
  const d = Object.assign({}, calls.get(ev.call_id) || {}, ev.decision, { outcome: ev.outcome, call_id: ev.call_id });
  if (!d.start && !d.at) d.at = ev.at || Date.now() / 1000;
  if (ev.kind === 'call.offered') {
    d.held = ev.outcome === 'pending';
    calls.set(ev.call_id, d);
    if (mine(d)) {
      notify(d);
      /* Pop it up unless a held call is on screen and this one is not held. */
      const cur = popup.call;
      if (d.held || !cur || !cur.held || cur.outcome !== 'pending') popup.show(ev.call_id).catch(() => {});
    }
  } else {
    d.held = false;
    if (calls.has(ev.call_id) || ev.kind === 'call.ended') calls.set(ev.call_id, d);
    popup.update(ev);
  }
  draw();
}

function options() {
  const box = document.getElementById('call-opts');
  const n = h('input', { type: 'checkbox', id: 'opt-notify', checked: prefs.notify || null });
  const s = h('input', { type: 'checkbox', id: 'opt-sound', checked: prefs.sound || null });
  const can = 'Notification' in window;
  const ask = h('button', { type: 'button', id: 'notify-ask', class: 'secondary', hidden: !(can && Notification.permission === 'default' && prefs.notify) || null,
    onclick: async () => {
      prefs.asked = true; savePrefs();
      await Notification.requestPermission();
      ask.hidden = true;
      hint();
    } }, 'Allow desktop notifications');
  const st = h('span', { id: 'notify-state', class: 'hint' });
  const hint = () => {
    st.textContent = !can ? 'This browser has no desktop notifications.'
      : Notification.permission === 'denied' ? 'Notifications are blocked for this site in the browser.' : '';
  };
  n.onchange = () => { prefs.notify = n.checked; savePrefs(); ask.hidden = !(can && n.checked && Notification.permission === 'default'); };
  s.onchange = () => { prefs.sound = s.checked; savePrefs(); if (s.checked) ring(); };
  hint();
  clear(box).append(
    h('label', {}, n, ' Desktop notification for each call'), ' ',
    h('label', {}, s, ' Ring sound'), ' ', ask, ' ', st);
  /* Asked once: the first visit offers it; afterwards only the button. */
  if (can && Notification.permission === 'default' && prefs.notify && !prefs.asked) {
    prefs.asked = true; savePrefs();
    Notification.requestPermission().then(() => { ask.hidden = Notification.permission !== 'default'; hint(); }).catch(() => {});
  }
}

async function main() {
  loadPrefs();
  const me = await login();
  window.tspsMe = me;
  nav('/');
  options();
  try { /* earlier calls survive a reload: from the durable history */
    const hist = await rpc('history', { user: me.identity, limit: 20 });
    for (const c of hist.calls || []) { c.held = false; calls.set(c.call_id, c); seen.add(c.call_id); }
  } catch (_) { /* not a user (attendant, admin): no history of my own */ }
  const r = await api('GET', '/api/calls');
  for (const c of r.calls) { c.held = true; calls.set(c.call_id, Object.assign(calls.get(c.call_id) || {}, c)); seen.add(c.call_id); }
  draw();
  setInterval(draw, 5000); /* "ringing" turns into "rang" */
  const st = document.getElementById('stream');
  events({ 'call.offered': onCall, 'call.updated': onCall, 'call.ended': onCall,
    'call.related': (ev) => popup.onRelated(ev) },
    (s) => { st.textContent = s; st.className = 'stream ' + s; });
  const want = new URLSearchParams(location.search).get('call');
  if (want) popup.show(want).catch(() => {});
  else {
    const first = ordered().find((c) => rank(c) === 0);
    if (first) popup.show(first.call_id).catch(() => {});
  }
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
