// settings.js - codes and methods per status, hours and zone, manual
// status, related-items criteria and favourites, delegation, password.
// Every change goes through the same handlers (and authz) as tspsctl.
import { login, api, rpc, h, clear, nav, toast, fmtTime } from './api.js';
import { drawEffective, tryCaller } from './rules.js';

const STATUSES = ['any', 'available', 'busy', 'dnd', 'away', 'meeting', 'off-hours'];
let user = '';
let rules = [];
const $ = (id) => document.getElementById(id);
const toTs = (v) => (v ? Math.floor(new Date(v).getTime() / 1000) : 0);

async function guard(fn, ok) {
  try { await fn(); if (ok) toast(ok); } catch (e) { toast(e.message, true); }
}

async function loadRules() {
  const r = await rpc('code_list', { user });
  rules = r.rules || [];
  drawEffective(rules, null);
  const tb = clear($('rules').tBodies[0]);
  for (const x of r.rules) {
    tb.append(h('tr', { 'data-rule': `${x.code}/${x.status}` }, h('td', {}, x.code), h('td', {}, x.status), h('td', {}, x.method),
      h('td', {}, h('button', { type: 'button', 'aria-label': `Delete rule ${x.code} ${x.status}`,
        onclick: () => guard(async () => {
          await rpc('code_delete', { rule: { user, code: x.code, status: x.status } });
          await loadRules();
        }, 'Rule deleted') }, 'Delete'))));
  }
}

async function loadUser() {
  try {
    const r = await rpc('user_get', { id: user });
    const u = r.users[0] || {};
    $('tz').value = u.tz || '';
    $('hours').value = u.hours || '';
  } catch (_) { $('tz').value = ''; $('hours').value = ''; }
  try {
    const s = (await rpc('status_get', { user })).status;
    $('status-now').textContent = `Now: ${s.status} (from ${s.source}${s.until ? ', until ' + fmtTime(s.until) : ''}${s.detail ? ': ' + s.detail : ''})`;
  } catch (e) { $('status-now').textContent = e.message; }
}

async function loadDelegs() {
  const tb = clear($('delegs').tBodies[0]);
  let r;
  try { r = await rpc('delegation_list', { user }); } catch (e) { tb.append(h('tr', {}, h('td', { colspan: 5 }, e.message))); return; }
  for (const d of r.delegations.filter((x) => x.user === user)) {
    tb.append(h('tr', {}, h('td', {}, d.attendant),
      h('td', {}, [d.monitor && 'see', d.act && 'act'].filter(Boolean).join(', ')),
      h('td', {}, (d.codes || []).join(', ') || 'all'),
      h('td', {}, d.not_before || d.not_after ? `${fmtTime(d.not_before) || '…'} – ${fmtTime(d.not_after) || '…'}` : 'always'),
      h('td', {}, h('button', { type: 'button', onclick: () => guard(async () => {
        await rpc('delegate', { delegation: { user, attendant: d.attendant }, remove: true });
        await loadDelegs();
      }, 'Delegation removed') }, 'Remove'))));
  }
}

/* The user's IVR menus (ivr.get / ivr.put, the text form tspsctl uses). */
async function loadIvr() {
  const note = $('ivr-note');
  try {
    const r = await rpc('ivr_get', { user });
    $('ivr-text').value = r.ivr || '';
    note.textContent = 'Menus in use.';
  } catch (e) {
    $('ivr-text').value = '';
    note.textContent = e.status === 404 ? 'No menus yet.' : e.message;
  }
}

async function loadPrefs() {
  const p = await api('GET', '/api/prefs');
  $('past-days').value = p.past_days;
  $('next-days').value = p.next_days;
  $('favs').value = p.favourites.map((f) => `${f.label} = ${f.number}`).join('\n');
}

async function loadAll() {
  await Promise.all([loadRules().catch((e) => toast(e.message, true)), loadUser(), loadDelegs(), loadIvr()]);
}

async function main() {
  const me = await login();
  nav('/settings.html');
  if (!me.is_user && !me.admin) {
    /* An attendant (not a user): no codes, hours or status of its own. */
    for (const sec of document.querySelectorAll('main > section')) if (sec.getAttribute('aria-labelledby') !== 'pw-h') sec.hidden = true;
    $('who').hidden = true;
    $('settings-h').textContent = 'Your web password';
    $('not-user').hidden = false;
    $('pw-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
      await api('POST', '/api/password', { password: $('pw').value });
      $('pw').value = '';
    }, 'Password changed'); });
    return;
  }
  user = new URLSearchParams(location.search).get('user') || me.identity;
  const who = $('who');
  const users = [...new Set([me.identity, ...me.attending.map((d) => d.user), user])];
  for (const u of users) who.append(h('option', { value: u, selected: u === user ? true : null }, u));
  who.addEventListener('change', () => { user = who.value; loadAll(); });
  for (const s of STATUSES) $('rule-status').append(h('option', { value: s }, s));
  for (const s of STATUSES) $('status').append(h('option', { value: s }, s === 'any' ? 'clear (automatic)' : s));

  $('try-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    await tryCaller(user, $('try-from').value.replace(/[\s().-]/g, ''), rules);
  }); });
  $('rule-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    await rpc('code_set', { rule: { user, code: $('rule-code').value.trim(), status: $('rule-status').value, method: $('rule-method').value.trim() } });
    await loadRules();
  }, 'Rule saved'); });
  $('hours-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    const r = await api('POST', '/api/hours', { user, tz: $('tz').value.trim(), hours: $('hours').value.trim() });
    $('hours').value = r.hours;
    $('hours-note').textContent = r.note || '';
    await loadUser(); /* the status they give now */
  }, 'Hours saved'); });
  $('status-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    await rpc('status_set', { user, status: $('status').value, until: toTs($('status-until').value), note: $('status-note').value });
    await loadUser();
  }, 'Status set'); });
  $('prefs-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    const favourites = $('favs').value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const [a, b] = l.includes('=') ? l.split('=') : [l, l];
      return { label: a.trim(), number: b.trim() };
    });
    await api('POST', '/api/prefs', { past_days: Number($('past-days').value), next_days: Number($('next-days').value), favourites });
    await loadPrefs();
  }, 'Saved'); });
  $('deleg-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    const codes = $('d-codes').value.split(',').map((c) => c.trim()).filter(Boolean);
    await rpc('delegate', { delegation: { user, attendant: $('d-att').value.trim(), monitor: $('d-monitor').checked, act: $('d-act').checked, codes, not_before: toTs($('d-from').value), not_after: toTs($('d-until').value) } });
    await loadDelegs();
  }, 'Delegated'); });
  $('ivr-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    try {
      const r = await rpc('ivr_put', { user, text: $('ivr-text').value });
      $('ivr-text').value = r.ivr || '';
      $('ivr-note').textContent = 'Menus in use.';
    } catch (err) {
      $('ivr-note').textContent = 'Not saved: ' + err.message; /* "line 4: ..." */
      throw err;
    }
  }, 'Menus saved'); });
  $('ivr-remove').addEventListener('click', () => guard(async () => {
    await rpc('ivr_put', { user, remove: true });
    await loadIvr();
  }, 'Menus removed'));
  $('pw-form').addEventListener('submit', (e) => { e.preventDefault(); guard(async () => {
    await api('POST', '/api/password', { password: $('pw').value });
    $('pw').value = '';
  }, 'Password changed'); });
  await Promise.all([loadAll(), loadPrefs()]);
}

main().catch((e) => { if (e.status !== 401) document.body.append(h('p', { class: 'error' }, e.message)); });
