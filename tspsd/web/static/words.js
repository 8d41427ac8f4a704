// words.js - calls in plain language: the state of a call ("waiting for
// you", "ringing your phones", "missed", "sent to voicemail"), one
// sentence saying what happens and why, and the caller's heading. Shared
// by the calls page, the pop-up and the call log. Text only: callers put
// these strings into text nodes (api.js h()), never into HTML.

/** Seconds a call that rang the user's phones counts as "ringing". */
export const RING_S = 45;

function targets(c) {
  return (c.targets || []).map((x) => x.label || x.uri).join(', ');
}

/** The method's kind ("ring", "forward", "ask" ...): given by the pop-up
 *  API, else the first word of the method text (history records). */
export function kind(c) {
  return c.method_kind || (c.method || '').trim().split(/\s+/)[0] || '';
}

/** What the method does, as a verb phrase: "rings your phones". */
export function methodWords(c) {
  const t = targets(c);
  switch (kind(c)) {
    case 'ring': return 'rings ' + (t || 'your phones');
    case 'forward': return 'forwards it to ' + (t || 'another number');
    case 'voicemail': return 'sends it to voicemail';
    case 'attendant': return 'passes it to your attendant';
    case 'reject': return 'rejects it';
    case 'ask': return 'asks you';
    default: return c.method ? 'does "' + c.method + '"' : 'routes it';
  }
}

/** The fallback of an "ask" method ("voicemail"), or "". */
export function fallback(c) {
  const m = /\bthen\s+(.+)$/.exec(c.method || '');
  return m ? m[1] : '';
}

/** Is the caller one (or several agreeing) of the user's contacts? */
export function known(c) {
  return c.caller_kind === 'known' || (!c.caller_kind && !!(c.contact || c.contact_uid));
}

/** The caller as a heading: the contact's name, else the number. A name
 *  the caller supplied (SIP display name) is never the heading; it is
 *  shown as "calls itself …" (callsItself). */
export function callerHeading(c) {
  if (known(c)) return (c.contact && c.contact.name) || c.caller_name || c.caller;
  if (c.caller_kind === 'ambiguous') return c.caller_name || c.caller || 'Several contacts';
  return c.caller || 'Withheld number';
}

/** 'calls itself “Bob”' when an unknown caller signalled a name, else "". */
export function callsItself(c) {
  if (known(c) || c.caller_kind === 'ambiguous') return '';
  const n = (c.caller_name || '').trim();
  return n && n !== c.caller ? 'calls itself “' + n + '”' : '';
}

/** The state of a call in a word or three, and a CSS class. */
export function stateWords(c, now = Date.now() / 1000) {
  const o = c.outcome;
  if (o === 'pending' || c.held) return ['waiting for you', 'pending'];
  if (o === 'missed') return ['missed (the caller hung up)', 'missed'];
  if (o === 'timeout') return ['missed: nobody acted, ' + (fallback(c) || 'fallback'), 'missed'];
  if (o === 'rejected') return ['rejected', 'rejected'];
  if (o === 'failed') return ['failed', 'failed'];
  if (o === 'answered') return ['answered', 'answered'];
  const start = c.start || c.at || 0;
  switch (kind(c)) {
    case 'ring':
      return start && now - start < RING_S ? ['ringing your phones', 'ringing'] : ['rang your phones', 'answered'];
    case 'forward': return ['forwarded to ' + (targets(c) || 'a number'), 'answered'];
    case 'voicemail': return ['sent to voicemail', 'voicemail'];
    case 'attendant': return ['passed to the attendant', 'answered'];
    case 'reject': return ['rejected', 'rejected'];
    default: return [o || 'routed', o || 'routed'];
  }
}

const STATUS_WORDS = {
  available: 'you are available', busy: 'you are busy', meeting: 'you are in a meeting',
  dnd: 'you do not want to be disturbed', away: 'you are away', 'off-hours': 'it is outside your working hours',
  any: '',
};

function statusPhrase(c) {
  const s = STATUS_WORDS[c.status] !== undefined ? STATUS_WORDS[c.status] : 'your status is ' + c.status;
  if (!s) return '';
  const note = c.status_note || c.event_summary;
  return note ? `${s} (${note})` : s;
}

/** One sentence: who calls, why that rule, what happens.
 *  "Anna Example is a VIP; you are available, so tsps asks you. Voicemail in 25 s." */
export function sentence(c, secsLeft) {
  const code = c.code && c.code !== '*' ? c.code : '';
  const a = (w) => (/^[AEIOU]/.test(w) ? 'an ' : 'a ') + w;
  let first;
  if (known(c)) first = code ? `${callerHeading(c)} is ${a(code)} caller` : `${callerHeading(c)} has no code`;
  else if (c.caller_kind === 'ambiguous') first = `Several contacts share this number${code ? ' (code ' + code + ')' : ''}`;
  else if (c.caller_kind === 'withheld') first = `The number is withheld${code ? ' (code ' + code + ')' : ''}`;
  else first = `This number is not in your contacts${code ? ' (code ' + code + ')' : ''}`;
  const st = statusPhrase(c);
  let s = first + (st ? '; ' + st : '') + ', so tsps ' + methodWords(c) + '.';
  if (c.held && secsLeft !== undefined) {
    const fb = fallback(c);
    s += ` ${fb ? fb.charAt(0).toUpperCase() + fb.slice(1) : 'The fallback'} in ${secsLeft} s.`;
  }
  return s;
}
