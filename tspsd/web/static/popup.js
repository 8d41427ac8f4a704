// popup.js - the call pop-up: who is calling, the contact and its code (and
// where the code came from), the decision and why, a countdown while the
// call is held, one-click overrides, the contact card, the caller's history,
// related calendar events, e-mails and documents (as they arrive on the event
// stream, "call.related") and web chat. Used by the calls page and console.
import { api, h, clear, fmtTime, toast, me } from './api.js';
import { stateWords, callerHeading, callsItself, sentence, known, fallback, kind } from './words.js';

const SRC_WORDS = {
  property: 'a vCard property', category: 'a category', group: 'a contact group',
  note: 'a marker in the notes', manual: 'set by hand', none: 'no code on the contact',
};

/* Related e-mails and documents per call id, as "call.related" brought
 * them (possibly before the pop-up loaded the call): {items, status}. */
const relSeen = new Map();
const REL_KEEP = 200;

const KIND_WORDS = { email: 'E-mail', document: 'Document', event: 'Event' };

/** Where a related item's link may go: mail clients and web addresses; a
 *  document in a folder of the server downloads through the web UI. */
export function relatedLink(it, callId) {
  const u = it.url || '';
  if (/^file:\/\//i.test(u))
    return { href: `/api/related/doc?call=${encodeURIComponent(callId)}&url=${encodeURIComponent(u)}`, download: true };
  if (/^(imaps?|https?):\/\//i.test(u)) return { href: u, download: false };
  return null; /* anything else (javascript:, data:) is not a link */
}

export class Popup {
  constructor(root, opts = {}) {
    this.root = root;
    this.opts = opts;
    this.call = null;
    this.timer = null;
    this.skew = 0;
    this.relWin = '';     /* '' = the user's criteria, else days back */
    this.relAsked = null; /* {items, status} of the window asked for */
  }

  /** "call.related": e-mails and documents of a call's caller. */
  onRelated(ev) {
    relSeen.set(ev.call_id, { items: ev.related || [], status: ev.related_status || '' });
    if (relSeen.size > REL_KEEP) relSeen.delete(relSeen.keys().next().value);
    if (this.call && ev.call_id === this.call.call_id && !this.relWin) this.drawRelated();
  }

  async show(callId, past, next) {
    let q = '';
    if (past !== undefined) q = `?past=${encodeURIComponent(past)}&next=${encodeURIComponent(next)}`;
    const c = await api('GET', `/api/call/${callId}${q}`);
    this.skew = c.now - Date.now() / 1000;
    if (!this.call || this.call.call_id !== c.call_id) { this.relWin = ''; this.relAsked = null; }
    this.call = c;
    this.render();
    return c;
  }

  /** An event for the call on screen: outcome, decision after override. */
  update(ev) {
    if (!this.call || ev.call_id !== this.call.call_id) return;
    const d = ev.decision || {};
    Object.assign(this.call, d);
    this.call.outcome = ev.outcome || d.outcome || this.call.outcome;
    if (ev.kind !== 'call.offered') this.call.held = false;
    this.render();
  }

  close() {
    clearInterval(this.timer);
    clear(this.root);
    this.root.hidden = true;
    this.call = null;
  }

  async act(action) {
    const c = this.call;
    try {
      const r = await api('POST', `/api/call/${c.call_id}/act`, { action });
      const d = (r.calls || [])[0] || {};
      toast('Done: ' + (d.method || action));
      Object.assign(this.call, d);
      this.call.held = false;
      this.call.outcome = kind(d) === 'reject' ? 'rejected' : 'redirected';
      this.render();
    } catch (e) {
      toast('Could not ' + action + ': ' + e.message, true);
    }
  }

  secsLeft() {
    const c = this.call;
    return Math.max(0, Math.round(c.held_until - (Date.now() / 1000 + this.skew)));
  }

  countdown(el, say) {
    clearInterval(this.timer);
    const c = this.call;
    const tick = () => {
      const left = this.secsLeft();
      el.textContent = c.held ? `${left} s left, then ${fallback(c) || 'the fallback'}` : '';
      if (c.held) say.textContent = sentence(c, left);
      if (!c.held || left <= 0) clearInterval(this.timer);
    };
    tick();
    if (c.held) this.timer = setInterval(tick, 250);
  }

  render() {
    const c = this.call;
    const root = clear(this.root);
    root.hidden = false;
    root.dataset.call = String(c.call_id);
    root.dataset.held = c.held ? '1' : '0';
    const ct = c.contact;
    const [state, cls] = stateWords(c);
    const heading = h('h2', { id: 'pp-name', tabindex: '-1' }, callerHeading(c));
    const itself = callsItself(c);
    root.append(
      h('header', { class: 'pp-head' },
        heading,
        itself ? h('p', { id: 'pp-calls-itself', class: 'itself' }, itself) : null,
        h('p', { id: 'pp-number', class: 'number' }, c.caller || 'number withheld'),
        h('p', { class: 'meta' }, `to ${c.user} (${c.called})`, c.start ? ` · ${fmtTime(c.start)}` : '', ' · ',
          h('span', { id: 'pp-outcome', class: 'outcome ' + cls, 'data-outcome': c.outcome }, state)),
        h('button', { type: 'button', class: 'close', 'aria-label': 'Close the pop-up',
          onclick: () => this.close() }, '×')),
    );
    const say = h('p', { id: 'pp-sentence', class: 'sentence' }, sentence(c, c.held ? this.secsLeft() : undefined));
    root.append(say);
    const cd = h('p', { id: 'pp-countdown', class: 'countdown', role: 'timer', 'aria-live': 'off' });
    root.append(cd);
    root.append(this.actions());
    const code = c.code || '(none)';
    // several contacts share the number: say so rather than show one of them
    const ambiguous = c.caller_kind === 'ambiguous';
    root.append(h('p', { id: 'pp-contact', class: 'contact' },
      ambiguous ? 'Ambiguous caller: several contacts have this number — '
        : ct && known(c) ? [h('strong', {}, ct.name), ct.org ? ` (${ct.org})` : '', ' — '] : 'Not in your contacts — ',
      'code ', h('span', { id: 'pp-code', class: 'code' }, code),
      h('span', { id: 'pp-code-source', class: 'src' },
        ` from ${SRC_WORDS[c.code_source] || c.code_source}${ct && ct.source ? ' in ' + ct.source : ''}`)));
    root.append(this.callerActions());
    root.append(h('details', { class: 'decision', id: 'pp-why' },
      h('summary', {}, 'Every step of the decision'),
      h('p', {}, h('span', { id: 'pp-decision' }, c.method),
        ` (status ${c.status}, from ${c.status_source})`),
      h('ol', { id: 'pp-trace', class: 'trace' },
        (c.explain || '').split('\n').filter((l) => /^\d+\. /.test(l))
          .map((l) => h('li', {}, l.replace(/^\d+\. /, ''))))));
    root.append(this.related());
    root.append(h('div', { id: 'pp-more' }));
    this.drawRelated();
    root.onkeydown = (ev) => { if (ev.key === 'Escape') this.close(); };
    this.countdown(cd, say);
    if (this.opts.focus !== false) heading.focus();
  }

  actions() {
    const c = this.call;
    const live = c.held && c.can_act;
    const dis = live ? null : true;
    const devSel = h('select', { id: 'take-device', 'aria-label': 'Phone to take the call on', disabled: dis },
      h('option', { value: '' }, 'all my phones'),
      (c.devices || []).map((d) => h('option', { value: d.label }, d.label)));
    const list = h('datalist', { id: 'fav-list' },
      (c.favourites || []).map((f) => h('option', { value: f.number }, f.label)));
    const num = h('input', { id: 'forward-number', type: 'tel', list: 'fav-list', placeholder: '+49 30 …',
      'aria-label': 'Number to forward to', disabled: dis, autocomplete: 'off' });
    const favBtns = (c.favourites || []).map((f) => h('button', {
      type: 'button', class: 'fav', disabled: dis, onclick: () => this.act('forward ' + f.number),
    }, `→ ${f.label}`));
    const wrap = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' },
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'btn-take', disabled: dis,
          onclick: () => this.act(devSel.value ? 'take ' + devSel.value : 'take') }, 'Take on'),
        devSel),
      h('form', { class: 'row', id: 'forward-form', onsubmit: (ev) => {
        ev.preventDefault();
        const n = num.value.replace(/[\s()-]/g, '');
        if (!/^\+?\d{3,20}$/.test(n)) { toast('Type a phone number to forward to', true); return; }
        this.act('forward ' + n);
      } }, num, list, h('button', { type: 'submit', id: 'btn-forward', disabled: dis }, 'Forward to')),
      favBtns.length ? h('div', { class: 'row favs' }, favBtns) : null,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'btn-voicemail', disabled: dis, onclick: () => this.act('voicemail') }, 'Voicemail'),
        h('button', { type: 'button', id: 'btn-attendant', disabled: dis, onclick: () => this.act('attendant') }, 'Attendant'),
        h('button', { type: 'button', id: 'btn-reject', class: 'danger', disabled: dis, onclick: () => this.act('reject') }, 'Reject')),
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'btn-contact', disabled: c.contact ? null : true,
          onclick: () => this.showContact() }, 'Open contact'),
        h('button', { type: 'button', id: 'btn-history', onclick: () => this.showHistory() }, 'Call history'),
        h('button', { type: 'button', id: 'btn-chat', onclick: () => this.startChat() }, 'Start web chat')));
    return wrap;
  }

  /** Set or change the caller's code, or block it: written to the contact
   *  in tsps and back to the address book (contact_set_code, as
   *  `tspsctl contact code`); the next call from this number uses it. */
  callerActions() {
    const c = this.call;
    const sec = h('section', { class: 'caller-actions', 'aria-label': 'This caller' });
    if (!c.contact_uid || !known(c)) {
      if (c.caller_kind === 'ambiguous' || !c.caller) {
        sec.append(h('p', { id: 'pp-not-contact', class: 'hint' },
          'Several contacts have this number: set their codes in your address book.'));
        return sec;
      }
      sec.append(this.addContactForm());
      return sec;
    }
    const input = h('input', { id: 'pp-setcode', list: 'pp-codes', value: c.code || '', size: 10,
      'aria-label': 'Code for this caller', pattern: '[A-Za-z0-9_-]{1,31}', autocomplete: 'off' });
    const codes = h('datalist', { id: 'pp-codes' });
    const f = h('form', { class: 'row', id: 'setcode-form', onsubmit: (ev) => {
      ev.preventDefault();
      this.setCode(input.value.trim().toUpperCase());
    } }, h('label', { for: 'pp-setcode' }, 'Code'), input, codes,
    h('button', { type: 'submit', id: 'btn-setcode', class: 'secondary' }, 'Set code'),
    h('button', { type: 'button', id: 'btn-block', class: 'secondary danger-text', onclick: () => this.setCode('BLOCK') }, 'Block this caller'));
    sec.append(f);
    api('POST', '/api/rpc/code_list', { user: c.user }).then((r) => {
      for (const x of new Set((r.rules || []).map((y) => y.code).filter((y) => y !== '*'))) codes.append(h('option', { value: x }));
    }).catch(() => {});
    return sec;
  }

  /** "Add to contacts" for an unknown caller: a new card in the user's
   *  address book (contact_create, as `tspsctl contact add`) with the
   *  chosen code; the source syncs and the next call uses the code. */
  addContactForm() {
    const c = this.call;
    const name = h('input', { id: 'pp-add-name', size: 18, maxlength: 120, autocomplete: 'off' });
    const code = h('input', { id: 'pp-add-code', list: 'pp-add-codes', size: 10, autocomplete: 'off',
      pattern: '[A-Za-z0-9_-]{0,31}', title: 'letters, digits, - or _' });
    const codes = h('datalist', { id: 'pp-add-codes' });
    const source = h('select', { id: 'pp-add-source' }, h('option', { value: '' }, 'first that can add'));
    const srcRow = h('div', { class: 'row', hidden: true }, h('label', { for: 'pp-add-source' }, 'Save in'), source);
    const err = h('p', { id: 'pp-add-error', class: 'error', role: 'alert' });
    const btn = h('button', { type: 'submit', id: 'btn-add-contact', class: 'secondary' }, 'Add to contacts');
    const f = h('form', { class: 'add-contact', id: 'add-contact-form', onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      btn.disabled = true;
      try {
        const want = code.value.trim().toUpperCase();
        const r = await api('POST', '/api/rpc/contact_create', {
          user: c.user, number: c.caller, name: name.value.trim(), code: want, source: source.value });
        const ct = (r.contacts || [])[0] || {};
        f.replaceWith(h('p', { id: 'pp-added', class: 'hint' },
          `Added to your contacts (${ct.source || 'address book'})` +
          (want ? ` with code ${want}` : '') +
          '. The next call from this number uses it.'));
        toast('Contact added');
      } catch (e) {
        err.textContent = addContactWords(e);
        btn.disabled = false;
      }
    } },
    h('p', { class: 'hint' }, 'Not in your contacts.'),
    h('div', { class: 'row' }, h('label', { for: 'pp-add-name' }, 'Name'), name),
    h('div', { class: 'row' }, h('label', { for: 'pp-add-code' }, 'Code'), code, codes),
    srcRow,
    h('div', { class: 'row' }, btn),
    err);
    api('POST', '/api/rpc/code_list', { user: c.user }).then((r) => {
      for (const x of new Set((r.rules || []).map((y) => y.code).filter((y) => y !== '*')))
        codes.append(h('option', { value: x }));
    }).catch(() => {});
    /* With more than one address book, the user picks where it goes. */
    api('POST', '/api/rpc/source_list', {}).then((r) => {
      const mine = (r.sources || []).filter((s) => s.user === c.user);
      for (const s of mine) source.append(h('option', { value: s.name }, s.name));
      if (mine.length > 1) srcRow.hidden = false;
    }).catch(() => {});
    return f;
  }

  async setCode(code) {
    const c = this.call;
    try {
      const msg = await setCallerCode(c.user, c.contact_uid, code);
      c.code = code;
      toast(msg);
      const say = document.getElementById('pp-code');
      if (say) say.textContent = code;
    } catch (e) {
      toast('Could not set the code: ' + e.message, true);
    }
  }

  related() {
    const c = this.call;
    const past = h('input', { id: 'crit-past', type: 'number', min: 0, max: 3650, value: c.criteria.past_days,
      'aria-label': 'Past days' });
    const next = h('input', { id: 'crit-next', type: 'number', min: 0, max: 3650, value: c.criteria.next_days,
      'aria-label': 'Next days' });
    const ev = c.events || [];
    const win = h('select', { id: 'rel-window', 'aria-label': 'E-mails and documents from' },
      [['', 'as set for this caller'], ['30', 'last 30 days'], ['90', 'last 90 days'], ['365', 'last 365 days']]
        .map(([v, t]) => h('option', { value: v, selected: v === this.relWin || null }, t)));
    win.onchange = () => this.relWindow(win.value);
    return h('section', { class: 'related', 'aria-label': 'Related items' },
      h('h3', {}, 'Calendar with this caller'),
      h('form', { class: 'row crit', onsubmit: async (e) => {
        e.preventDefault();
        await this.show(c.call_id, past.value, next.value);
      } }, 'past ', past, ' days, next ', next, ' days ', h('button', { type: 'submit' }, 'Filter')),
      ev.length
        ? h('ul', { id: 'pp-events' }, ev.map((x) => h('li', { class: x.when },
          h('span', { class: 'when' }, x.when), ' ', fmtTime(x.start), ' — ', x.summary)))
        : h('p', { id: 'pp-events', class: 'empty' }, 'No events with this caller in that window.'),
      h('h3', {}, 'E-mails and documents'),
      c.related_on ? h('div', { class: 'row' }, h('label', { for: 'rel-window' }, 'Show '), win) : null,
      h('div', { id: 'pp-related', 'aria-live': 'polite' }));
  }

  /** Fill #pp-related: what arrived (or was asked for), never waiting. */
  drawRelated() {
    const c = this.call;
    const box = document.getElementById('pp-related');
    if (!c || !box) return;
    clear(box);
    if (!c.related_on) {
      box.append(h('p', { class: 'empty', id: 'pp-related-none' },
        'No e-mail or document sources are set up for this user (or they are not shared with you).'));
      return;
    }
    const got = this.relWin ? this.relAsked : relSeen.get(c.call_id);
    if (!got) {
      /* An earlier call, or a page opened after the lookup went out: ask. */
      const age = Date.now() / 1000 + this.skew - (c.held_since || c.start || 0);
      if (!this.relWin && (!c.held || age > 20)) this.relFetch(c);
      box.dataset.state = 'waiting';
      box.append(h('p', { class: 'empty', id: 'pp-related-wait' }, 'Looking for e-mails and documents…'));
      return;
    }
    box.dataset.state = 'done';
    if (got.status) box.append(h('p', { id: 'pp-related-status', class: 'warn', role: 'status' }, got.status));
    if (!got.items.length) {
      box.append(h('p', { class: 'empty', id: 'pp-related-empty' },
        got.status ? 'Nothing else found.' : 'No e-mails or documents with this caller in that window.'));
      return;
    }
    box.append(h('ul', { id: 'pp-related-list', class: 'rel-items' }, got.items.map((it) => this.relItem(it))));
  }

  relItem(it) {
    const c = this.call;
    const link = relatedLink(it, c.call_id);
    const title = it.title || '(no subject)';
    const who = it.kind === 'email'
      ? [it.from ? 'from ' + it.from : '', it.to ? ' to ' + it.to : ''].join('') : '';
    const att = it.attachments || [];
    return h('li', { class: 'rel-item kind-' + (it.kind || 'other'), 'data-kind': it.kind },
      h('p', { class: 'rel-head' },
        h('span', { class: 'rel-kind' }, KIND_WORDS[it.kind] || it.kind || 'Item'), ' ',
        h('time', { class: 'when', datetime: it.date ? new Date(it.date * 1000).toISOString() : null }, fmtTime(it.date)), ' ',
        link ? h('a', { class: 'rel-open', href: link.href, download: link.download || null,
          target: link.download ? null : '_blank', rel: link.download ? null : 'noopener noreferrer' }, title)
          : h('strong', { class: 'rel-title' }, title)),
      who ? h('p', { class: 'rel-who' }, who) : null,
      it.snippet ? h('p', { class: 'rel-snippet' }, it.snippet) : null,
      att.length ? h('p', { class: 'rel-att' }, 'Attachments: ', att.join(', ')) : null,
      it.where || it.why ? h('p', { class: 'rel-why hint' }, [it.where, it.why].filter(Boolean).join(' · ')) : null);
  }

  /** The user's criteria for an earlier call (once per pop-up). */
  async relFetch(c) {
    if (this.relFetching === c.call_id) return;
    this.relFetching = c.call_id;
    let got;
    try {
      const r = await api('POST', '/api/rpc/related', { call_id: c.call_id });
      got = { items: r.related || [], status: r.related_status || '' };
    } catch (e) {
      got = { items: [], status: 'could not ask: ' + e.message };
    }
    if (!relSeen.has(c.call_id)) this.onRelated(Object.assign({ call_id: c.call_id }, { related: got.items, related_status: got.status }));
  }

  /** The date filter: ask the JSON API for that window ('' = criteria). */
  async relWindow(days) {
    const c = this.call;
    this.relWin = days;
    this.relAsked = null;
    this.drawRelated();
    if (!days) return;
    const since = Math.floor(Date.now() / 1000 + this.skew) - Number(days) * 86400;
    try {
      const r = await api('POST', '/api/rpc/related', { call_id: c.call_id, since });
      if (this.call !== c || this.relWin !== days) return; /* changed meanwhile */
      this.relAsked = { items: r.related || [], status: r.related_status || '' };
    } catch (e) {
      if (this.call !== c || this.relWin !== days) return;
      this.relAsked = { items: [], status: 'could not ask: ' + e.message };
    }
    this.drawRelated();
  }

  showContact() {
    const ct = this.call.contact;
    const more = clear(document.getElementById('pp-more'));
    if (!ct) return;
    const dl = h('dl', { id: 'pp-card', class: 'card' });
    const row = (k, v) => { if (v !== undefined && v !== '' && !(Array.isArray(v) && !v.length)) dl.append(h('dt', {}, k), h('dd', {}, Array.isArray(v) ? v.join(', ') : v)); };
    row('Name', ct.name); row('Organisation', ct.org); row('Numbers', ct.numbers);
    row('E-mail', ct.emails); row('Code', ct.code); row('Code from', SRC_WORDS[ct.code_source] || ct.code_source);
    row('Code detail', ct.code_detail); row('Source', ct.source); row('UID', ct.uid);
    more.append(h('section', { 'aria-label': 'Contact card' }, h('h3', {}, 'Contact'), dl));
  }

  async showHistory() {
    try { /* fresh: calls and chats since the pop-up opened */
      this.call.history = (await api('GET', `/api/call/${this.call.call_id}`)).history;
    } catch (_) { /* keep what we have */ }
    /* Messages the caller left, by call (only for those who may hear
     * them: the user, an admin, an attendant with the related right). */
    const vm = new Map();
    const u = this.call.user;
    try {
      const r = await api('GET', '/api/voicemail' + (u ? '?user=' + encodeURIComponent(u) : ''));
      for (const m of r.voicemail || []) if (m.history_id) vm.set(m.history_id, m);
    } catch (_) { /* no right, or voicemail off */ }
    const more = clear(document.getElementById('pp-more'));
    const hs = this.call.history || [];
    const msg = (r) => {
      const m = vm.get(r.call_id);
      if (!m) return '';
      return h('a', { href: `/inbox.html${u ? '?user=' + encodeURIComponent(u) : ''}`, class: 'vm-link', 'data-vm': m.id },
        `${m.heard ? 'message' : 'new message'} (${Math.round((m.duration_ms || 0) / 1000)} s)`);
    };
    more.append(h('section', { 'aria-label': 'Call history' }, h('h3', {}, 'Calls from this number'),
      hs.length ? h('table', { id: 'pp-history' },
        h('thead', {}, h('tr', {}, ['When', 'Code', 'Handled', 'Outcome', 'By', 'Chat', 'Voicemail'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, hs.map((r) => h('tr', { class: r.call_id === this.call.call_id ? 'this' : null },
          h('td', {}, fmtTime(r.start)), h('td', {}, r.code), h('td', {}, r.method),
          h('td', {}, r.outcome), h('td', {}, r.actor),
          h('td', {}, r.chat ? h('a', { href: `/chat.html?call=${r.call_id}`, target: '_blank' }, 'transcript') : ''),
          h('td', {}, msg(r))))))
        : h('p', { class: 'empty' }, 'No earlier calls.')));
  }

  async startChat() {
    const c = this.call;
    try {
      await api('POST', `/api/chat/${c.call_id}`);
      const inv = await api('POST', `/api/chat/${c.call_id}/invite`);
      const more = clear(document.getElementById('pp-more'));
      more.append(h('section', { 'aria-label': 'Web chat' }, h('h3', {}, 'Web chat'),
        h('p', {}, 'Invitation (valid until ', fmtTime(inv.expires), '): ',
          h('input', { id: 'chat-invite', readonly: true, value: inv.invite_url, 'aria-label': 'Invitation link' })),
        h('p', {}, h('a', { id: 'chat-open', href: `/chat.html?call=${c.call_id}`, target: '_blank' }, 'Open the chat'))));
    } catch (e) {
      toast('Chat: ' + e.message, true);
    }
  }
}

/** An "add to contacts" failure in words. */
export function addContactWords(e) {
  const m = e.message || '';
  if (e.status === 403) return 'You may not add contacts for this user.';
  if (/no source .* can add contacts|cannot add contacts|has no source/.test(m))
    return 'There is no address book tsps can add contacts to (a vCard folder or CardDAV source). Ask your administrator to set one up.';
  if (/refused the contact/.test(m)) return 'The address book refused the contact: ' + m.replace(/^.*refused the contact: /, '') + '.';
  if (e.status === 400) return 'Could not add the contact: ' + m;
  return 'Could not add the contact (the server said: ' + m + '). Try again later.';
}

/** Set (or change) the code of a user's contact, in tsps and written back
 *  to the address book; "BLOCK" adds a "BLOCK → reject" rule when the user
 *  has none. Resolves to a message for a toast; throws ApiError. */
export async function setCallerCode(user, uid, code) {
  if (!/^[A-Z0-9_-]{1,31}$/.test(code)) throw new Error('a code is letters, digits, - or _');
  let extra = '';
  if (code === 'BLOCK') {
    const rules = (await api('POST', '/api/rpc/code_list', { user })).rules || [];
    if (!rules.some((r) => r.code === 'BLOCK')) {
      await api('POST', '/api/rpc/code_set', { rule: { user, code: 'BLOCK', status: 'any', method: 'reject' } });
      extra = ' (new rule: BLOCK → reject)';
    }
  }
  const r = await api('POST', '/api/rpc/contact_set_code', { user, uid, code });
  return `Code ${code} set${extra}` + (r.message ? ': ' + r.message : '');
}

/** One line of a calls list: who, state in words, code. */
export function callRow(c, onOpen) {
  const [state, cls] = stateWords(c);
  const itself = callsItself(c);
  return h('li', { class: 'call ' + cls, 'data-call': c.call_id, 'data-state': cls },
    h('button', { type: 'button', class: 'open', onclick: () => onOpen(c.call_id) },
      h('strong', {}, callerHeading(c)), ' ',
      itself ? h('span', { class: 'itself' }, itself + ' ') : null,
      h('span', { class: 'number' }, c.caller), ' → ', c.user, ' ',
      h('span', { class: 'code' }, c.code), ' ', h('span', { class: 'outcome ' + cls }, state),
      c.start || c.at ? h('span', { class: 'when' }, ' ' + new Date((c.start || c.at) * 1000).toLocaleTimeString()) : null));
}

export { me };
