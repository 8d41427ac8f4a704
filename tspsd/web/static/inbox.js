// inbox.js - the voicemail inbox: the messages callers left with tsps's
// media front, newest first, with a player (the WAV streamed from
// /api/voicemail/ID/audio under the session), marked heard when played,
// and deleted on request. The same handlers and rights as tspsctl
// voicemail; kept current by the voicemail events of the stream.
import { login, api, events, h, clear, nav, fmtTime, toast } from './api.js';

const $ = (id) => document.getElementById(id);
let me = null;
let user = '';

function length(ms) {
  const s = Math.round((ms || 0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const q = () => (user && user !== me.identity ? '?user=' + encodeURIComponent(user) : '');

async function act(m, action) {
  return api('POST', `/api/voicemail/${encodeURIComponent(m.id)}/${action}`, { user });
}

/* Rows by message id, kept across reloads of the list: a row whose
 * message is still there is updated in place, never rebuilt, so a message
 * being played goes on playing when the list changes (marking it heard
 * is itself such a change). */
const rows = new Map();

function setState(r, heard) {
  r.m.heard = heard;
  r.state.textContent = heard ? 'Heard' : 'New';
  r.state.className = 'outcome ' + (heard ? 'heard' : 'new');
  r.tr.className = heard ? 'heard' : 'new';
}

function row(m) {
  const name = m.contact_name || m.caller || 'Withheld number';
  const state = h('span', { class: 'outcome ' + (m.heard ? 'heard' : 'new') }, m.heard ? 'Heard' : 'New');
  const audio = h('audio', { controls: true, preload: 'none', src: `/api/voicemail/${encodeURIComponent(m.id)}/audio${q()}`,
    'aria-label': 'Message from ' + name });
  audio.addEventListener('play', async () => {
    if (r.m.heard) return;
    try {
      await act(r.m, 'heard');
      setState(r, true);
    } catch (e) { toast(e.message, true); }
  });
  const r = { m, state, tr: null };
  r.tr = h('tr', { 'data-vm': m.id, class: m.heard ? 'heard' : 'new' },
    h('td', { class: 'left' }, fmtTime(m.time)),
    h('td', {}, m.history_id ? h('a', { href: `/?call=${m.history_id}` }, name) : name,
      m.contact_name && m.caller ? h('div', { class: 'number' }, m.caller) : null),
    h('td', { class: 'code' }, m.code),
    h('td', {}, length(m.duration_ms)),
    h('td', {}, state),
    h('td', {}, audio),
    h('td', {}, h('button', { type: 'button', class: 'secondary danger-text', 'aria-label': 'Delete the message from ' + name,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try { await act(r.m, 'delete'); toast('Message deleted'); await load(); } catch (e) { ev.target.disabled = false; toast(e.message, true); }
      } }, 'Delete')));
  return r;
}

async function load() {
  let r;
  try {
    r = await api('GET', '/api/voicemail' + q());
  } catch (e) {
    clear(document.querySelector('#vm tbody'));
    rows.clear();
    $('vm-empty').hidden = false;
    $('vm-empty').textContent = 'Could not read the inbox: ' + e.message;
    return;
  }
  const msgs = r.voicemail || [];
  const tb = document.querySelector('#vm tbody');
  const keep = new Set(msgs.map((m) => m.id));
  for (const [id, old] of rows) {
    if (!keep.has(id)) { old.tr.remove(); rows.delete(id); }
  }
  let at = tb.firstElementChild;
  for (const m of msgs) {
    let e = rows.get(m.id);
    if (e) setState(e, !!m.heard);
    else { e = row(m); rows.set(m.id, e); }
    if (e.tr === at) at = at.nextElementSibling;
    else tb.insertBefore(e.tr, at);
  }
  $('vm-empty').hidden = msgs.length > 0;
  $('vm-empty').textContent = /voicemail is off/.test(r.message || '') ? 'Voicemail is off on this server.' : 'No messages.';
  const nnew = msgs.filter((m) => !m.heard).length;
  $('vm-counts').textContent = `${nnew} new, ${msgs.length - nnew} heard`;
}

async function main() {
  me = await login();
  nav('/inbox.html');
  const p = new URLSearchParams(location.search);
  user = p.get('user') || (me.is_user ? me.identity : '');
  /* Mailboxes one may open: one's own, and those of users who delegated
   * the related right (e-mails and voicemail are private). */
  const boxes = [me.is_user && me.identity, ...(me.attending || []).filter((d) => d.related).map((d) => d.user)].filter(Boolean);
  if (!user && boxes.length) user = boxes[0];
  if (boxes.length > 1 || (user && !boxes.includes(user))) {
    const sel = $('vm-who');
    for (const b of new Set([...boxes, user])) sel.append(h('option', { value: b, selected: b === user || null }, b));
    sel.hidden = false;
    sel.onchange = () => { location.search = '?user=' + encodeURIComponent(sel.value); };
  }
  await load();
  const on = (d) => { if (d.user === user) load(); };
  events({ 'voicemail.new': on, 'voicemail.changed': on });
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
