// rules.js - the settings page's "rules in effect": for every code (rows)
// and status (columns) the method that applies, by the engine's order
// (code, status) > (*, status) > (code, any) > (*, any) > ring, and "what
// would happen if … called now": a dry run (the `route` request) whose
// winning rule is highlighted in this table and in the list of rules.
import { rpc, h, clear } from './api.js';
import { sentence } from './words.js';

const COLS = ['available', 'busy', 'dnd', 'away', 'meeting', 'off-hours'];
const $ = (id) => document.getElementById(id);

/** The rule that applies to (code, status): [rule or null, "CODE/STATUS"]. */
export function effective(rules, code, status) {
  const find = (c, s) => rules.find((r) => r.code === c && r.status === s);
  for (const [c, s] of [[code, status], ['*', status], [code, 'any'], ['*', 'any']]) {
    const r = find(c, s);
    if (r) return r;
  }
  return null;
}

export function drawEffective(rules, win) {
  const codes = [...new Set(rules.map((r) => r.code).filter((c) => c !== '*'))].sort();
  if (win && win.code && win.code !== '*' && !codes.includes(win.code)) codes.push(win.code);
  codes.push('*');
  const t = clear($('effective'));
  t.append(h('caption', { class: 'sr' }, 'The method for each code (rows) and status (columns)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Code'), COLS.map((s) => h('th', { scope: 'col' }, s)))),
    h('tbody', {}, codes.map((code) => h('tr', { 'data-code': code },
      h('th', { scope: 'row' }, code === '*' ? 'any other code (*)' : code),
      COLS.map((st) => {
        const r = effective(rules, code, st);
        const here = win && (win.code === code || (code === '*' && !codes.slice(0, -1).includes(win.code))) && win.status === st;
        return h('td', { class: here ? 'win' : null, 'aria-current': here ? 'true' : null, 'data-status': st,
          title: r ? `rule ${r.code}/${r.status}` : 'no rule: ring every phone' },
        r ? r.method : 'ring', here ? h('span', { class: 'sr' }, ' (applies now)') : null);
      })))));
}

/** Run "what would happen if NUMBER called now" for `user`. */
export async function tryCaller(user, from, rules) {
  const u = (await rpc('user_get', { id: user })).users[0] || {};
  const to = (u.numbers || [])[0];
  if (!to) throw new Error(user + ' has no number to call');
  const d = (await rpc('route', { from, to })).calls[0];
  const m = /rule (\S+)\/(\S+) applies/.exec(d.explain || '');
  const win = { code: d.code, status: d.status, rule: m ? m[1] + '/' + m[2] : null };
  drawEffective(rules, win);
  for (const tr of document.querySelectorAll('#rules tbody tr')) {
    const on = win.rule && tr.dataset.rule === win.rule;
    tr.classList.toggle('win', !!on);
    if (on) tr.setAttribute('aria-current', 'true'); else tr.removeAttribute('aria-current');
  }
  clear($('try-result')).append(
    h('p', { id: 'try-sentence' }, sentence(d)),
    h('p', { class: 'hint' }, win.rule ? `Rule ${win.rule} wins (code ${d.code || '-'}, status ${d.status}).`
      : 'No rule matches: every phone rings.'));
  return d;
}
