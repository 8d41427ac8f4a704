// log.js - the call log: the user's calls from the durable history (the
// control protocol's `history` request through /api/rpc), newest first,
// with the caller, the code, what tsps did in plain words and the outcome.
// Filters live in the URL (a reload keeps them) and are applied by the
// daemon over the whole history: missed only or another outcome, caller number,
// name or number text (contact), code and date range.
// Paging goes by a cursor: "Older" asks for the calls before the last one
// shown (before=<call id>), which stays right while new calls arrive.
import { login, rpc, h, clear, nav, fmtTime, toast } from './api.js';
import { stateWords, callerHeading, callsItself, sentence, known } from './words.js';
import { setCallerCode } from './popup.js';

const PAGE = 50;
const $ = (id) => document.getElementById(id);
let me = null;

function params() { return new URLSearchParams(location.search); }

function day(s, end) { /* yyyy-mm-dd in local time -> epoch seconds */
  if (!s) return 0;
  const t = new Date(s + (end ? 'T23:59:59' : 'T00:00:00'));
  return Number.isNaN(t.getTime()) ? 0 : Math.floor(t.getTime() / 1000) + (end ? 1 : 0);
}

function fill(p) {
  $('f-missed').checked = p.get('missed') === '1';
  $('f-outcome').value = p.get('missed') === '1' ? '' : p.get('outcome') || '';
  $('f-caller').value = p.get('caller') || '';
  $('f-contact').value = p.get('contact') || '';
  $('f-code').value = p.get('code') || '';
  $('f-from').value = p.get('from') || '';
  $('f-to').value = p.get('to') || '';
}

function go(extra) {
  const p = new URLSearchParams();
  if ($('f-missed').checked) p.set('missed', '1');
  else if ($('f-outcome').value) p.set('outcome', $('f-outcome').value);
  for (const k of ['caller', 'contact', 'code', 'from', 'to']) {
    const v = $('f-' + k).value.trim();
    if (v) p.set(k, v);
  }
  const user = params().get('user');
  if (user) p.set('user', user);
  for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
  location.search = p.toString();
}

function row(c) {
  const [state, cls] = stateWords(c, Infinity); /* the log is the past: "rang", not "ringing" */
  const itself = callsItself(c);
  return h('tr', { 'data-call': c.call_id, 'data-state': cls, class: cls },
    h('td', { class: 'left' }, fmtTime(c.start)),
    h('td', {}, h('a', { href: `/?call=${c.call_id}` }, callerHeading(c)),
      c.caller && callerHeading(c) !== c.caller ? h('div', { class: 'number' }, c.caller) : null,
      itself ? h('div', { class: 'itself' }, itself) : null,
      known(c) && c.contact_uid && c.code !== 'BLOCK' ? h('button', { type: 'button', class: 'secondary danger-text block',
        'aria-label': 'Block ' + callerHeading(c),
        onclick: async (ev) => {
          try { toast(await setCallerCode(c.user, c.contact_uid, 'BLOCK')); ev.target.disabled = true; } catch (e) { toast(e.message, true); }
        } }, 'Block') : null),
    h('td', { class: 'code' }, c.code),
    h('td', {}, sentence(c), c.actor ? ` (${c.actor} decided)` : ''),
    h('td', {}, h('span', { class: 'outcome ' + cls }, state)));
}

async function main() {
  me = await login();
  nav('/log.html');
  const p = params();
  fill(p);
  $('log-filter').onsubmit = (e) => { e.preventDefault(); go(); };
  /* one outcome at a time: "missed only" or another outcome */
  $('f-missed').onchange = () => { if ($('f-missed').checked) $('f-outcome').value = ''; };
  $('f-outcome').onchange = () => { if ($('f-outcome').value) $('f-missed').checked = false; };
  const user = p.get('user') || me.identity;
  $('log-user').textContent = user === me.identity ? '' : `(${user})`;
  const before = p.get('before') || '';
  const body = { user, limit: PAGE, from: day(p.get('from')), to: day(p.get('to'), true) };
  if (p.get('caller')) body.caller = p.get('caller').replace(/[\s().-]/g, '');
  if (p.get('missed') === '1') body.outcome = 'missed';
  else if (p.get('outcome')) body.outcome = p.get('outcome');
  if (p.get('code')) body.code = p.get('code');
  if (p.get('contact')) body.text = p.get('contact');
  /* a call of this node (ID), or across a cluster's nodes (ID@NODE@START) */
  const cur = /^([1-9][0-9]*)(?:@([^@]+)@(-?[0-9]+))?$/.exec(before);
  if (cur) {
    body.before_id = Number(cur[1]);
    if (cur[2]) { body.before_node = cur[2]; body.before_start = Number(cur[3]); }
  }
  let calls = [];
  try {
    calls = (await rpc('history', body)).calls || [];
  } catch (e) {
    $('log-empty').hidden = false;
    $('log-empty').textContent = e.status === 403 ? 'Only users have a call log of their own.' : 'Could not read the log: ' + e.message;
    $('log-older').hidden = $('log-newer').hidden = true;
    return;
  }
  const tb = clear(document.querySelector('#log tbody'));
  for (const c of calls) tb.append(row(c));
  $('log-empty').hidden = calls.length > 0;
  $('log-page').textContent = calls.length ? `${fmtTime(calls[calls.length - 1].start)} – ${fmtTime(calls[0].start)}` : '';
  const older = $('log-older');
  older.hidden = calls.length < PAGE;
  const last = calls[calls.length - 1];
  older.onclick = () => go({ before: last.node ? `${last.call_id}@${last.node}@${last.start}` : String(last.call_id) });
  const newer = $('log-newer');
  newer.hidden = !before;
  newer.onclick = () => history.back();
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
