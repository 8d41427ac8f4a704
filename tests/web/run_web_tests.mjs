// run_web_tests.mjs - the web UI in a real browser (headless Debian chromium
// driven by playwright-core) against a real tspsd with its SIP front, sipp
// as the caller. Usage:
//   node run_web_tests.mjs --tspsd BIN --tspsctl BIN --sipp BIN
//        --scenarios tests/sip/scenarios --artifacts DIR [--docs-img FILE]
//        [--suite main|related]   (related: related_web.mjs, ctest web_related)
// Exit 0 = all passed, 1 = a failure, 77 = chromium or playwright missing.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawn, spawnSync } from 'node:child_process';
import {
  SKIP, freePort, findChromium, loadPlaywright, launch, Daemon, SippCall, tmpdir, provision,
  loginPassword, sleep, sippRun, leaveVoicemail, T,
} from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    tspsd: { type: 'string' }, tspsctl: { type: 'string' }, sipp: { type: 'string' },
    scenarios: { type: 'string' }, artifacts: { type: 'string', default: '.' },
    'docs-img': { type: 'string' }, repo: { type: 'string' },
    suite: { type: 'string', default: 'main' },
  },
});

const results = [];
/* TSPS_WEB_ONLY=regex runs only the checks whose name matches (while
 * working on one page); the set-up and the final checks always run. */
const only = process.env.TSPS_WEB_ONLY ? new RegExp(process.env.TSPS_WEB_ONLY) : null;
const always = /^(no script errors|tspsd stops cleanly)/;
async function check(name, fn) {
  if (only && !only.test(name) && !always.test(name)) return;
  const t0 = performance.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`PASS ${name} (${Math.round(performance.now() - t0)} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

const exe = findChromium();
if (!exe) {
  console.log('SKIP: no chromium (apt-get install chromium); browser tests NOT run');
  process.exit(SKIP);
}
const pw = await loadPlaywright();
if (!pw) {
  console.log('SKIP: playwright-core missing (npm ci in tests/web); browser tests NOT run');
  process.exit(SKIP);
}

if (opt.suite === 'related') {
  const { relatedTests } = await import('./related_web.mjs');
  process.exit(await relatedTests({ pw, exe, opt }));
}

const work = tmpdir('tsps-web-');
fs.mkdirSync(opt.artifacts, { recursive: true });
const d = new Daemon(opt.tspsd, opt.tspsctl, work);
let browser;
let nsipp = 0;
const call = (caller, called, name, scen) => new SippCall(opt.sipp, opt.scenarios, work, ++nsipp, scen).start(d.sipPort, caller, called, name);
const errors = [];

try {
  await d.start();
  await provision(d, work);
  browser = await launch(pw, exe, work);
  const ctxOpts = { ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } };
  const alice = await browser.newContext(ctxOpts);
  const pa = await alice.newPage();
  pa.on('pageerror', (e) => errors.push('alice page: ' + e.message));
  pa.on('dialog', (dl) => { errors.push('dialog opened: ' + dl.message()); dl.dismiss(); });

  await check('login with a password; a wrong one is refused', async () => {
    await pa.goto(d.url + '/login.html');
    await pa.fill('#user', 'alice');
    await pa.fill('#password', 'wrong-password');
    await pa.click('#login-btn');
    await pa.waitForFunction(() => document.getElementById('login-error').textContent.includes('Wrong'));
    await loginPassword(pa, d.url, 'alice', 'alice-secret-1');
    await pa.waitForSelector('#stream.live', { timeout: T(5000) });
    const nav = await pa.textContent('#nav');
    assert(nav.includes('alice'), 'nav shows the identity: ' + nav);
    const cookies = await alice.cookies();
    const s = cookies.find((c) => c.name === 'tsps_session');
    assert(s && s.httpOnly && s.secure && s.sameSite === 'Strict', 'cookie flags: ' + JSON.stringify(s));
  });

  let c1;
  await check('a sipp call pops up with the right contact within 1 s', async () => {
    c1 = await call('+4930222222', '+4930111111', 'Anna');
    const shown = await (await pa.waitForFunction(() => {
      const n = document.getElementById('pp-name');
      return n && n.textContent === 'Anna Example' && Date.now();
    }, null, { timeout: T(5000), polling: 'raf' })).jsonValue();
    const ms = performance.now() - c1.t0;
    const arrival = shown - d.offeredAt();
    console.log(`  pop-up ${Math.round(arrival)} ms after the INVITE reached tspsd (${Math.round(ms)} ms after sipp started)`);
    assert(arrival < 1000, `pop-up took ${Math.round(arrival)} ms after the call arrived`);
    const code = await pa.textContent('#pp-code');
    assert(code === 'VIP', 'code ' + code);
    const src = await pa.textContent('#pp-code-source');
    assert(src.includes('vCard property') && src.includes('alice-book'), 'code source: ' + src);
    const trace = await pa.textContent('#pp-trace');
    assert(trace.includes('VIP') && trace.includes('alice'), 'trace: ' + trace);
    await pa.waitForFunction(() => /\d+ s left/.test(document.getElementById('pp-countdown').textContent));
    const ev = await pa.textContent('#pp-events');
    assert(ev.includes('Contract review with Anna') && ev.includes('Kick-off with Anna'), 'events: ' + ev);
    await pa.click('#btn-contact');
    const card = await pa.textContent('#pp-card');
    assert(card.includes('anna@example.org') && card.includes('Example & Co'), 'card: ' + card);
    await pa.screenshot({ path: path.join(opt.artifacts, 'popup.png') });
  });

  await check('the related-items window is settable in the page', async () => {
    await pa.fill('#crit-past', '1');
    await pa.fill('#crit-next', '0');
    await pa.click('.crit button');
    await pa.waitForFunction(() => !document.getElementById('pp-events').textContent.includes('Kick-off'));
    let ev = await pa.textContent('#pp-events');
    assert(!ev.includes('Contract review'), 'next 0 days still lists a future event: ' + ev);
    await pa.fill('#crit-past', '0');
    await pa.fill('#crit-next', '5');
    await pa.click('.crit button');
    await pa.waitForFunction(() => document.getElementById('pp-events').textContent.includes('Contract review'));
    ev = await pa.textContent('#pp-events');
    assert(!ev.includes('Kick-off'), 'past 0 days still lists a past event: ' + ev);
  });

  await check('"forward to" makes sipp receive the 302 to that number', async () => {
    await pa.fill('#forward-number', '+49 30 777777');
    await pa.click('#btn-forward');
    const rc = await c1.wait();
    const f = c1.final();
    assert(rc === 0, 'sipp rc ' + rc);
    assert(f && f.status === 302, 'final: ' + JSON.stringify(f));
    assert(f.contact.includes('+4930777777'), 'Contact: ' + f.contact);
    await pa.waitForFunction(() => document.getElementById('pp-outcome').dataset.outcome !== 'pending');
    const hist = d.ctl('--json', 'history', 'alice');
    assert(hist.includes('"actor":') && hist.includes('alice'), 'history names the actor');
  });

  await check('contact names with <script> are shown as text', async () => {
    const c = await call('+4930333333', '+4930111111', 'x');
    await pa.waitForFunction(() => (document.getElementById('pp-name') || {}).textContent?.startsWith('<script>'),
      null, { timeout: T(5000) });
    const name = await pa.textContent('#pp-name');
    assert(name === '<script>window.__xss=1</script><img src=x onerror=alert(1)>', 'name: ' + name);
    const inj = await pa.evaluate(() => ({
      xss: window.__xss, scripts: document.querySelectorAll('#popup script, #popup img').length,
      listImgs: document.querySelectorAll('#calls img, #calls script').length,
    }));
    assert(inj.xss === undefined && inj.scripts === 0 && inj.listImgs === 0, JSON.stringify(inj));
    await pa.click('#btn-reject');
    const rc = await c.wait();
    const f = c.final();
    assert(rc === 0 && f && f.status >= 400, 'reject: ' + JSON.stringify(f));
  });

  await check('a number shared by two contacts pops up as ambiguous, routed by their code', async () => {
    const c = await call('+4930444444', '+4930111111', 'x');
    await pa.waitForFunction(() => (document.getElementById('pp-name') || {}).textContent?.includes('one of 2 contacts'),
      null, { timeout: T(5000) });
    const name = await pa.textContent('#pp-name');
    assert(name.endsWith('one of 2 contacts: Acme Ltd, Ann Lee'), 'name: ' + name);
    const ct = await pa.textContent('#pp-contact');
    assert(ct.startsWith('Ambiguous caller') && ct.includes('VIP'), 'contact line: ' + ct);
    await pa.click('#btn-reject');
    const rc = await c.wait();
    assert(rc === 0, 'reject: ' + rc);
  });

  await check('events: a reconnect with Last-Event-ID replays what was missed', async () => {
    const got = await pa.evaluate(async () => {
      const ctl = new AbortController();
      const r = await fetch('/api/events', { headers: { 'Last-Event-ID': '1' }, signal: ctl.signal });
      const rd = r.body.getReader();
      let text = '';
      const t0 = Date.now();
      while (!/event: call\.ended/.test(text) && Date.now() - t0 < 3000) {
        const { value, done } = await rd.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ctl.abort();
      return { type: r.headers.get('content-type'), text };
    });
    assert(got.type.startsWith('text/event-stream'), 'content-type ' + got.type);
    assert(/id: \d+\nevent: call\.offered\ndata: \{/.test(got.text), 'no replayed call.offered: ' + got.text.slice(0, 300));
    assert(got.text.includes('event: call.ended'), 'no replayed call.ended');
  });

  await check('a POST without the CSRF token is refused (403)', async () => {
    const r = await pa.evaluate(async () => {
      const no = await fetch('/api/rpc/code_list', { method: 'POST', body: '{"user":"alice"}' });
      const bad = await fetch('/api/prefs', { method: 'POST', headers: { 'X-CSRF-Token': 'f'.repeat(64) }, body: '{}' });
      const me = await (await fetch('/api/me')).json();
      const ok = await fetch('/api/rpc/code_list', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf }, body: '{"user":"alice"}' });
      const login = await fetch('/api/login', { method: 'POST', body: '{"user":"alice","password":"alice-secret-1"}' });
      return [no.status, bad.status, ok.status, login.status];
    });
    assert(r[0] === 403 && r[1] === 403 && r[2] === 200 && r[3] === 403, 'statuses ' + r);
  });

  await check('the attendant console shows a delegated user\'s call, not another\'s', async () => {
    const carol = await browser.newContext(ctxOpts);
    const pc = await carol.newPage();
    pc.on('pageerror', (e) => errors.push('carol page: ' + e.message));
    const link = d.ctl('user', 'login-link', 'carol');
    assert(link.startsWith(d.url + '/login?t='), 'link ' + link);
    await pc.goto(link);
    await pc.waitForURL(d.url + '/');
    const again = await (await carol.newPage()).goto(link);
    assert(again.url().includes('error=link'), 'a login link works once: ' + again.url());
    /* bob delegates too, but only FAMILY calls: his UNKNOWN call stays hidden. */
    d.ctl('delegate', 'bob', 'carol', '--monitor', '--act', '--codes', 'FAMILY');
    await pc.goto(d.url + '/console.html');
    await pc.waitForSelector('#stream.live');
    const ca = await call('+4930222222', '+4930111111', 'Anna');
    const cb = await call('+4930444444', '+4930600600', 'Someone');
    await pc.waitForSelector('section.group[data-user="alice"] tr[data-call]', { timeout: T(5000) });
    await sleep(400); /* bob's call is offered too: give it time to (wrongly) arrive */
    const txt = await pc.textContent('#groups');
    assert(txt.includes('Anna Example'), 'alice\'s call missing: ' + txt);
    assert(!txt.includes('+4930444444') && !txt.includes('bob'), 'bob\'s call leaked: ' + txt);
    const api = await pc.evaluate(async () => (await fetch('/api/calls')).json());
    assert(api.calls.every((c) => c.user === 'alice'), 'API leaked: ' + JSON.stringify(api.calls.map((c) => c.user)));
    const denied = await pc.evaluate(async () => {
      const me = await (await fetch('/api/me')).json();
      const r = await fetch('/api/rpc/calls_live', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf }, body: '{"user":"bob"}' });
      const j = await r.json();
      const x = await fetch('/api/rpc/calls_live', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf }, body: '{"user":"dave"}' });
      return r.status === 200 && j.calls.length === 0 && x.status === 403 ? 200 : `${r.status} ${JSON.stringify(j.calls)} ${x.status}`;
    });
    assert(denied === 200, 'calls_live for bob (delegated, out of scope): ' + denied);
    await pc.screenshot({ path: path.join(opt.artifacts, 'console.png') });
    /* The attendant acts on alice's call; bob's is cleared by the admin. */
    await pc.click(`section.group[data-user="alice"] tr[data-call] button`);
    await pc.waitForSelector('#btn-voicemail:not([disabled])');
    await pc.click('#btn-voicemail');
    const ra = await ca.wait();
    assert(ra === 0 && ca.final().status === 302, 'voicemail by attendant: ' + JSON.stringify(ca.final()));
    /* alice passes a call to her attendant: it pops up on carol's console. */
    /* wait for the new call's pop-up, not the one carol just handled */
    const before = await pa.evaluate(() => document.getElementById('popup').dataset.call || '');
    const cc = await call('+4930222222', '+4930111111', 'Anna');
    await pa.bringToFront();
    await pa.waitForFunction((b) => { const p = document.getElementById('popup'); return p.dataset.held === '1' && p.dataset.call !== b; },
      before, { timeout: T(5000) });
    const passed = await pa.evaluate(() => Number(document.getElementById('popup').dataset.call));
    await pa.click('#btn-attendant');
    const rcc = await cc.wait();
    assert(rcc === 0 && cc.final().contact.includes('carol@desk.tsps.test'), 'to attendant: ' + JSON.stringify(cc.final()));
    await pc.waitForSelector(`#popup[data-call="${passed}"]`, { timeout: T(5000) });
    const ptxt = await pc.textContent('#popup');
    assert(ptxt.includes('Anna Example') && ptxt.includes('attendant'), 'console pop-up: ' + ptxt);
    const live = JSON.parse(d.ctl('--json', 'calls'));
    const bobCall = (live.calls || live).find ? (live.calls || live).find((c) => c.user === 'bob') : null;
    if (bobCall) d.ctl('act', String(bobCall.call_id), 'reject');
    await cb.wait();
    await carol.close();
  });

  await check('web chat: messages go both ways between two browser contexts', async () => {
    const c = await call('+4930222222', '+4930111111', 'Anna');
    await pa.waitForFunction(() => document.getElementById('pp-outcome')?.dataset.outcome === 'pending' &&
      document.getElementById('pp-name').textContent === 'Anna Example', null, { timeout: T(5000) });
    const callId = await pa.evaluate(() => Number(document.querySelector('#calls li[data-call]').dataset.call));
    await pa.click('#btn-chat');
    await pa.waitForSelector('#chat-invite');
    const invite = await pa.inputValue('#chat-invite');
    assert(invite.includes('/chat/join?t='), 'invite ' + invite);
    const guest = await browser.newContext(ctxOpts);
    const pg = await guest.newPage();
    pg.on('pageerror', (e) => errors.push('guest page: ' + e.message));
    await pg.goto(invite + '&name=Anna');
    await pg.waitForSelector('#stream.live');
    const pac = await alice.newPage();
    await pac.goto(`${d.url}/chat.html?call=${callId}`);
    await pac.waitForSelector('#stream.live');
    await pac.fill('#chat-text', 'Hello Anna, <b>one</b> minute');
    await pac.click('#chat-send');
    await pg.waitForFunction(() => document.getElementById('messages').textContent.includes('Hello Anna, <b>one</b> minute'), null, { timeout: T(5000) });
    await pg.fill('#chat-text', 'Sure, I wait');
    await pg.click('#chat-send');
    await pac.waitForFunction(() => document.getElementById('messages').textContent.includes('Sure, I wait'), null, { timeout: T(5000) });
    const gApi = await pg.evaluate(async () => (await fetch('/api/calls')).status);
    assert(gApi === 403, 'a chat guest reached /api/calls: ' + gApi);
    const transcript = await pac.evaluate(async (id) => (await fetch(`/api/chat/${id}`)).json(), callId);
    assert(transcript.messages.length === 2 && transcript.messages[1].from === 'Anna (guest)', JSON.stringify(transcript.messages));
    await pac.screenshot({ path: path.join(opt.artifacts, 'chat.png') });
    await pa.bringToFront();
    await pa.click('#btn-history');
    await pa.waitForSelector(`#pp-history a[href="/chat.html?call=${callId}"]`, { timeout: T(5000) });
    await pa.bringToFront();
    await pa.click('#btn-voicemail');
    await c.wait();
    await guest.close();
  });

  await check('settings: a rule, hours, status, criteria and a delegation round-trip', async () => {
    const ps = await alice.newPage();
    ps.on('pageerror', (e) => errors.push('settings page: ' + e.message));
    await ps.goto(d.url + '/settings.html');
    await ps.waitForSelector('#rules tbody tr');
    await ps.fill('#rule-code', 'VIP');
    await ps.selectOption('#rule-status', 'meeting');
    await ps.fill('#rule-method', 'voicemail');
    await ps.click('#rule-form button');
    await ps.waitForFunction(() => document.getElementById('rules').textContent.includes('meeting'));
    await ps.fill('#hours', 'mon-fri 08:00-16:00');
    await ps.click('#hours-form button');
    await ps.waitForFunction(() => document.getElementById('toast')?.textContent === 'Hours saved');
    await ps.selectOption('#status', 'dnd');
    await ps.fill('#status-note', 'deep work');
    await ps.click('#status-form button');
    await ps.waitForFunction(() => document.getElementById('status-now').textContent.includes('dnd'));
    await ps.fill('#favs', 'Desk of Bob = +4930600600');
    await ps.click('#prefs-form button');
    await ps.waitForFunction(() => document.getElementById('toast')?.textContent === 'Saved');
    await ps.fill('#d-att', 'dave');
    await ps.click('#deleg-form button');
    await ps.waitForFunction(() => document.getElementById('delegs').textContent.includes('dave'));
    const rules = d.ctl('code', 'list', 'alice');
    assert(rules.includes('meeting'), 'rule not stored: ' + rules);
    const st = d.ctl('status', 'get', 'alice');
    assert(st.includes('dnd'), 'status: ' + st);
    await ps.screenshot({ path: path.join(opt.artifacts, 'settings.png'), fullPage: true });
    d.ctl('status', 'set', 'alice', 'any');
  });

  await check('settings: IVR menus are edited in the page; a bad line is shown, nothing stored', async () => {
    const ps = await alice.newPage();
    ps.on('pageerror', (e) => errors.push('settings page (ivr): ' + e.message));
    await ps.goto(d.url + '/settings.html');
    const note = async (re, what) => {
      try {
        await ps.waitForFunction((src) => new RegExp(src).test(document.getElementById('ivr-note').textContent), re.source, { timeout: T(10000) });
      } catch (_) {
        throw new Error(`${what}: the note says "${await ps.textContent('#ivr-note')}"`);
      }
    };
    await note(/No menus yet/, 'before any menu');
    await ps.fill('#ivr-text', 'menu main\nprompt text Hi <b>there</b>\ndigit 1 voicemail\ndigit 1 reject\n');
    await ps.click('#ivr-form button[type=submit]');
    await note(/Not saved: line 4/, 'after a bad menu');
    let stored = spawnSync(opt.tspsctl, ['--data', d.data, 'ivr', 'get', 'alice'], { encoding: 'utf8' });
    assert(stored.status !== 0 && /no IVR menus/.test(stored.stdout + stored.stderr), 'stored after a refusal: ' + stored.stdout);
    await ps.fill('#ivr-text', 'menu main\nprompt text Press 1 for my mobile.\ntimeout 4\ndefault voicemail\ndigit 1 forward +4930123\n');
    await ps.click('#ivr-form button[type=submit]');
    await note(/Menus in use/, 'after a good menu');
    stored = d.ctl('ivr', 'get', 'alice');
    assert(/digit 1 forward \+4930123/.test(stored) && /timeout 4/.test(stored), 'not stored: ' + stored);
    /* the page shows the canonical form tspsd stored */
    assert((await ps.inputValue('#ivr-text')).trim() === stored.trim(), 'page and store differ');
    await ps.reload();
    await ps.waitForFunction(() => document.getElementById('ivr-text').value.includes('forward +4930123'));
    await ps.click('#ivr-remove');
    await note(/No menus yet/, 'after remove');
    await ps.close();
  });

  await check('keyboard: the pop-up can be driven without a mouse', async () => {
    const c = await call('+4930222222', '+4930111111', 'Anna');
    await pa.bringToFront();
    await pa.waitForFunction(() => document.getElementById('pp-outcome')?.dataset.outcome === 'pending', null, { timeout: T(5000) });
    await pa.focus('#forward-number');
    await pa.keyboard.type('+4930888888');
    await pa.keyboard.press('Enter');
    const rc = await c.wait();
    assert(rc === 0 && c.final().contact.includes('+4930888888'), 'keyboard forward: ' + JSON.stringify(c.final()));
  });

  await check('readable on a phone: no sideways scrolling', async () => {
    await pa.setViewportSize({ width: 390, height: 844 });
    await pa.waitForTimeout(200);
    const over = await pa.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await pa.screenshot({ path: path.join(opt.artifacts, 'popup-phone.png'), fullPage: true });
    const pc = await alice.newPage();
    await pc.setViewportSize({ width: 390, height: 844 });
    await pc.goto(d.url + '/settings.html');
    await pc.waitForSelector('#rules tbody tr');
    const over2 = await pc.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await pc.close();
    await pa.setViewportSize({ width: 1100, height: 900 });
    assert(over <= 0 && over2 <= 0, `overflow: calls ${over}px, settings ${over2}px`);
  });

  await check('"take on" a registered phone: 302 to that device', async () => {
    d.ctl('device', 'add', 'alice', 'alice-desk', '--password', 'desk-secret', '--label', 'desk');
    const rc = await sippRun(opt.sipp, path.dirname(new URL(import.meta.url).pathname), path.join(work, 'reg'),
      d.sipPort, 'register.xml', { aor: 'alice-desk', expires: '3600' });
    assert(rc === 0, 'REGISTER rc ' + rc);
    const c = await call('+4930222222', '+4930111111', 'Anna');
    await pa.bringToFront();
    await pa.waitForFunction(() => document.getElementById('pp-outcome')?.dataset.outcome === 'pending' &&
      [...document.querySelectorAll('#take-device option')].some((o) => o.value === 'desk'), null, { timeout: T(5000) });
    await pa.selectOption('#take-device', 'desk');
    await pa.click('#btn-take');
    const rc2 = await c.wait();
    const f = c.final();
    assert(rc2 === 0 && f && f.status === 302 && f.contact.includes('alice-desk@'), 'take: ' + JSON.stringify(f));
  });

  await check('every call pops up: ringing with a Notification, held on top, missed; title counts', async () => {
    /* unknown callers ring alice's phones (alice-desk is registered) */
    d.ctl('code', 'set', 'alice', 'UNKNOWN', 'ring');
    const ctx = await browser.newContext(Object.assign({}, ctxOpts, { permissions: ['notifications'] }));
    await ctx.grantPermissions(['notifications'], { origin: d.url });
    await ctx.addInitScript(() => {
      const Real = window.Notification;
      window.__notes = [];
      class Spy extends Real {
        constructor(title, o) { super(title, o); window.__notes.push({ title, body: o && o.body }); }
      }
      window.Notification = Spy;
    });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push('notify page: ' + e.message));
    await p.goto(d.ctl('user', 'login-link', 'alice'));
    await p.waitForSelector('#stream.live', { timeout: T(5000) });
    const perm = await p.evaluate(() => Notification.permission);
    assert(perm === 'granted', 'permission ' + perm);
    const r = await call('+4930555555', '+4930111111', 'Unknown Bob', 'invite_final.xml');
    await p.waitForFunction(() => document.getElementById('pp-outcome')?.textContent === 'ringing your phones', null, { timeout: T(5000) });
    const head = await p.textContent('#pp-name');
    const itself = await p.textContent('#pp-calls-itself');
    assert(head === '+4930555555' && itself.includes('calls itself') && itself.includes('Unknown Bob'), `heading ${head} / ${itself}`);
    const notes = await p.evaluate(() => window.__notes);
    assert(notes.length === 1 && notes[0].title === '+4930555555' && /ring/.test(notes[0].body), 'notifications ' + JSON.stringify(notes));
    /* the title and favicon count the held and ringing calls listed */
    const count = () => p.evaluate(() => ({
      title: document.title, icon: decodeURIComponent(document.querySelector('link[rel=icon]').href),
      n: document.querySelectorAll('#calls li[data-state=pending], #calls li[data-state=ringing]').length }));
    const c1 = await count();
    assert(c1.n >= 1 && c1.title.startsWith(`(${c1.n}) `) && c1.icon.includes(`>${c1.n}</text>`), 'count ' + JSON.stringify(c1));
    assert((await r.wait()) === 0 && r.final().status === 302, 'ring: ' + JSON.stringify(r.final()));
    /* a held call comes in: it pops up and goes on top of the list */
    d.ctl('code', 'delete', 'alice', 'UNKNOWN');
    const held = await call('+4930666666', '+4930111111', 'Held Harry');
    await p.waitForFunction(() => document.getElementById('popup').dataset.held === '1' &&
      document.getElementById('pp-name').textContent === '+4930666666', null, { timeout: T(5000) });
    const order = await p.evaluate(() => [...document.querySelectorAll('#calls li')].map((li) => li.dataset.state));
    assert(order[0] === 'pending' && order.includes('ringing'), 'order ' + order);
    await p.waitForFunction((n) => document.title.startsWith(`(${n + 1}) `), c1.n, { timeout: T(5000) });
    const notes2 = await p.evaluate(() => window.__notes.length);
    assert(notes2 === 2, 'second notification: ' + notes2);
    await p.click('#btn-voicemail');
    assert((await held.wait()) === 0, 'held call');
    /* a caller who hangs up while held: missed */
    const gone = await call('+4930777000', '+4930111111', 'Gone', 'invite_cancel.xml');
    await gone.wait();
    await p.waitForFunction(() => [...document.querySelectorAll('#calls li')].some((li) => li.dataset.state === 'missed'),
      null, { timeout: T(5000) });
    const missed = await p.textContent('#calls li[data-state="missed"]');
    assert(missed.includes('+4930777000') && missed.includes('missed'), 'missed row ' + missed);
    await ctx.close();
  });

  await check('ring sound: ticked, a ringing call starts a tone; unticked, none (kept over a reload)', async () => {
    d.ctl('code', 'set', 'alice', 'UNKNOWN', 'ring');
    const ctx = await browser.newContext(ctxOpts);
    /* the page hook: every oscillator started, with its context's state */
    await ctx.addInitScript(() => {
      window.__tones = [];
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (...a) { window.__tones.push(this.context.state); return start.apply(this, a); };
    });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push('ring page: ' + e.message));
    try {
      await p.goto(d.ctl('user', 'login-link', 'alice'));
      await p.waitForSelector('#stream.live', { timeout: T(5000) });
      assert(!(await p.isChecked('#opt-sound')), 'the ring sound is on by default');
      const ringing = async (num) => {
        const c = await call(num, '+4930111111', 'Ring Test', 'invite_final.xml');
        await p.waitForFunction((n) => document.getElementById('pp-name')?.textContent === n &&
          document.getElementById('pp-outcome')?.textContent === 'ringing your phones', num, { timeout: T(5000) });
        assert((await c.wait()) === 0, 'sipp ' + num);
      };
      /* off: a ringing call makes no sound */
      await ringing('+4930555201');
      let tones = await p.evaluate(() => window.__tones);
      assert(tones.length === 0, 'tones with the sound off: ' + JSON.stringify(tones));
      /* on (a click: the browser lets the page play): a sample, then the call's tones */
      await p.check('#opt-sound');
      await p.waitForFunction(() => window.__tones.length >= 2, null, { timeout: T(2000) });
      await p.evaluate(() => { window.__tones = []; });
      await ringing('+4930555202');
      await p.waitForFunction(() => window.__tones.length >= 2, null, { timeout: T(2000) });
      tones = await p.evaluate(() => window.__tones);
      assert(tones.length === 2 && tones.every((t) => t === 'running'), 'tones with the sound on: ' + JSON.stringify(tones));
      /* the setting survives a reload; unticked again, silence */
      await p.reload();
      await p.waitForSelector('#stream.live', { timeout: T(5000) });
      assert(await p.isChecked('#opt-sound'), 'the ring sound setting was lost on reload');
      await p.uncheck('#opt-sound');
      await p.evaluate(() => { window.__tones = []; });
      await ringing('+4930555203');
      await sleep(300);
      tones = await p.evaluate(() => window.__tones);
      assert(tones.length === 0, 'tones after unticking: ' + JSON.stringify(tones));
    } finally {
      try { d.ctl('code', 'delete', 'alice', 'UNKNOWN'); } catch (_) { /* gone already */ }
      await ctx.close();
    }
  });

  await check('phone width (390 px): one plain sentence, trace folded, actions visible without scrolling', async () => {
    try { d.ctl('code', 'delete', 'alice', 'UNKNOWN'); } catch (_) { /* gone already */ }
    const p = await alice.newPage();
    p.on('pageerror', (e) => errors.push('phone page: ' + e.message));
    await p.setViewportSize({ width: 390, height: 844 });
    await p.goto(d.url + '/');
    await p.waitForSelector('#stream.live', { timeout: T(5000) });
    const c = await call('+4930888001', '+4930111111', 'Unknown Bob');
    await p.waitForFunction(() => document.getElementById('popup').dataset.held === '1' &&
      document.getElementById('pp-name')?.textContent === '+4930888001', null, { timeout: T(5000) });
    const got = await p.evaluate(() => {
      const vis = (id) => { const r = document.getElementById(id).getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0; };
      return {
        scrollY: window.scrollY, over: document.documentElement.scrollWidth - window.innerWidth,
        take: vis('btn-take'), forward: vis('btn-forward'), vm: vis('btn-voicemail'), reject: vis('btn-reject'),
        folded: !document.getElementById('pp-why').open,
        sentence: document.getElementById('pp-sentence').textContent,
        itself: document.getElementById('pp-calls-itself')?.textContent,
      };
    });
    await p.screenshot({ path: path.join(opt.artifacts, 'popup-phone.png') });
    assert(got.scrollY === 0 && got.over <= 0 && got.take && got.forward && got.vm && got.reject, 'layout ' + JSON.stringify(got));
    assert(got.folded, 'the trace is open by default');
    assert(/^This number is not in your contacts \(code UNKNOWN\); [^,]+, so tsps asks you\. Voicemail in \d+ s\.$/.test(got.sentence), 'sentence: ' + got.sentence);
    assert(got.itself === 'calls itself “Unknown Bob”', 'calls itself: ' + got.itself);
    await p.click('#btn-voicemail');
    assert((await c.wait()) === 0, 'voicemail');
    await p.close();
  });

  await check('call log: outcomes in plain words, filters, survives a reload; tspsctl history --caller', async () => {
    const p = await alice.newPage();
    p.on('pageerror', (e) => errors.push('log page: ' + e.message));
    await p.goto(d.url + '/log.html');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const read = () => p.evaluate(() => [...document.querySelectorAll('#log tbody tr')].map((tr) => ({
      id: tr.dataset.call, state: tr.dataset.state, text: tr.textContent })));
    const rows = await read();
    const by = (num) => rows.find((r) => r.text.includes(num));
    assert(by('+4930777000') && by('+4930777000').state === 'missed' && by('+4930777000').text.includes('missed (the caller hung up)'), 'missed: ' + JSON.stringify(by('+4930777000')));
    assert(rows.some((r) => r.text.includes('Anna Example') && r.text.includes('forwarded to') && r.text.includes('+4930777777')), 'forwarded row missing');
    assert(by('+4930888001') && by('+4930888001').text.includes('sent to voicemail') && by('+4930888001').text.includes('calls itself'), 'voicemail row: ' + JSON.stringify(by('+4930888001')));
    assert(rows.some((r) => r.state === 'rejected'), 'rejected row missing');
    await p.reload();
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const again = await read();
    assert(JSON.stringify(again.map((r) => [r.id, r.state])) === JSON.stringify(rows.map((r) => [r.id, r.state])), 'reload changed the log');
    await p.check('#f-missed');
    await p.click('#log-filter button[type=submit]');
    await p.waitForURL(/missed=1/);
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const missed = await read();
    assert(missed.length >= 1 && missed.every((r) => r.state === 'missed'), 'missed filter: ' + JSON.stringify(missed.map((r) => r.state)));
    /* the daemon filtered: exactly the calls the unfiltered log shows as missed */
    const wantMissed = rows.filter((r) => r.state === 'missed').map((r) => r.id);
    assert(rows.length < 50 && JSON.stringify(missed.map((r) => r.id)) === JSON.stringify(wantMissed),
      `missed rows ${missed.map((r) => r.id)} want ${wantMissed}`);
    await p.reload();
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const missed2 = await read();
    assert(await p.isChecked('#f-missed') && /missed=1/.test(p.url()), 'the missed filter was lost on reload: ' + p.url());
    assert(JSON.stringify(missed2.map((r) => r.id)) === JSON.stringify(wantMissed), 'after reload: ' + missed2.map((r) => r.id));
    /* another outcome from the list: exactly the calls the log shows with it */
    await p.selectOption('#f-outcome', 'voicemail');
    assert(!(await p.isChecked('#f-missed')), 'missed stays ticked with another outcome');
    await p.click('#log-filter button[type=submit]');
    await p.waitForURL(/outcome=voicemail/);
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const vm = await read();
    const wantVm = rows.filter((r) => r.state === 'voicemail').map((r) => r.id);
    assert(wantVm.length > 0 && JSON.stringify(vm.map((r) => r.id)) === JSON.stringify(wantVm) && vm.every((r) => r.text.includes('sent to voicemail')),
      `voicemail rows ${vm.map((r) => r.id)} want ${wantVm}`);
    assert(!/missed=1/.test(p.url()), 'url ' + p.url());
    /* a bad filter value is said in words */
    await p.goto(d.url + '/log.html?code=' + encodeURIComponent('no such code!'));
    await p.waitForFunction(() => !document.getElementById('log-empty').hidden, null, { timeout: T(5000) });
    const bad = await p.textContent('#log-empty');
    assert(/Could not read the log: .*not a code/.test(bad), 'bad code: ' + bad);
    await p.goto(d.url + '/log.html?missed=1');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    await p.uncheck('#f-missed');
    await p.fill('#f-caller', '+49 30 888001');
    await p.click('#log-filter button[type=submit]');
    await p.waitForURL(/caller=/);
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const one = await read();
    assert(one.length === 1 && one[0].text.includes('+4930888001'), 'caller filter: ' + JSON.stringify(one));
    /* code and contact name: asked of the daemon, kept in the address */
    const codeOf = () => p.evaluate(() => [...document.querySelectorAll('#log tbody tr')].map((tr) => [tr.dataset.call, tr.querySelector('td.code').textContent]));
    const allCodes = rows.map((r) => r.id);
    await p.goto(d.url + '/log.html');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const codes = await codeOf();
    assert(JSON.stringify(codes.map((x) => x[0])) === JSON.stringify(allCodes), 'unfiltered log changed');
    const wantVip = codes.filter((x) => x[1] === 'VIP').map((x) => x[0]);
    await p.goto(d.url + '/log.html?code=vip');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const vip = await codeOf();
    assert(wantVip.length > 0 && JSON.stringify(vip.map((x) => x[0])) === JSON.stringify(wantVip), `code vip: ${vip} want ${wantVip}`);
    assert(await p.inputValue('#f-code') === 'vip', 'the code field lost its value');
    await p.goto(d.url + '/log.html?contact=ANNA');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const anna = await read();
    assert(anna.length >= 1 && anna.length < rows.length && anna.every((r) => /anna/i.test(r.text)), 'contact ANNA: ' + anna.map((r) => r.text.slice(0, 40)));
    const ctlOut = JSON.parse(d.ctl('--json', 'history', 'alice', '--caller', '+4930888001'));
    const list = ctlOut.calls || ctlOut;
    assert(list.length === 1 && list[0].caller === '+4930888001', 'tspsctl history --caller: ' + JSON.stringify(list).slice(0, 300));
    await p.goto(d.url + '/log.html');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    await p.screenshot({ path: path.join(opt.artifacts, 'log.png') });
    await p.close();
  });

  await check('call log paging: "Older" shows the next 50 calls, none twice, while a call arrives', async () => {
    /* 60 more calls (sent to voicemail: nothing held), all in a second or two */
    d.ctl('code', 'set', 'alice', 'UNKNOWN', 'voicemail');
    try {
      for (let i = 0; i < 60; i++) d.ctl('route', '--from', '+4930600' + String(i).padStart(3, '0'), '--to', '+4930111111', '--live');
    } finally {
      d.ctl('code', 'delete', 'alice', 'UNKNOWN');
    }
    const all = JSON.parse(d.ctl('--json', 'history', 'alice', '--limit', '1000')).calls.map((c) => String(c.call_id));
    assert(all.length > 60 && all.length <= 100, 'calls in the log: ' + all.length);
    const p = await alice.newPage();
    p.on('pageerror', (e) => errors.push('log paging page: ' + e.message));
    const ids = () => p.evaluate(() => [...document.querySelectorAll('#log tbody tr')].map((tr) => tr.dataset.call));
    await p.goto(d.url + '/log.html');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const page1 = await ids();
    assert(JSON.stringify(page1) === JSON.stringify(all.slice(0, 50)), 'first page: ' + page1.slice(0, 5));
    assert(await p.isVisible('#log-older') && !(await p.isVisible('#log-newer')), 'buttons on the first page');
    /* a call arrives before "Older": the next page does not shift */
    const fresh = JSON.parse(d.ctl('--json', 'route', '--from', '+4930600999', '--to', '+4930111111', '--live')).calls[0].call_id;
    await p.click('#log-older');
    await p.waitForURL(/before=\d+/);
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    const page2 = await ids();
    assert(JSON.stringify(page2) === JSON.stringify(all.slice(50)), `second page ${page2.slice(0, 3)}.. want ${all.slice(50, 53)}..`);
    assert(!page2.includes(String(fresh)) && await p.isVisible('#log-newer') && !(await p.isVisible('#log-older')), 'second page buttons / fresh call');
    await p.reload();
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    assert(JSON.stringify(await ids()) === JSON.stringify(page2), 'the second page changed on reload');
    await p.click('#log-newer');
    await p.waitForFunction((f) => document.querySelector('#log tbody tr')?.dataset.call === f, String(fresh), { timeout: T(5000) });
    await p.close();
    /* the fresh call is held (alice's default asks): settle it */
    d.ctl('act', String(fresh), 'voicemail');
  });

  await check('set code and block a caller from the pop-up: written back to the address book, the next call follows it', async () => {
    const evil = path.join(work, 'book', 'evil.vcf');
    let c = await call('+4930333333', '+4930111111', 'x');
    await pa.bringToFront();
    await pa.goto(d.url + '/');
    await pa.waitForFunction(() => document.getElementById('popup').dataset.held === '1' &&
      document.getElementById('pp-number')?.textContent === '+4930333333', null, { timeout: T(5000) });
    await pa.fill('#pp-setcode', 'family');
    await pa.click('#btn-setcode');
    await pa.waitForFunction(() => document.getElementById('toast')?.textContent.startsWith('Code FAMILY set'), null, { timeout: T(5000) });
    for (let i = 0; i < 100 && !fs.readFileSync(evil, 'utf8').includes('X-TSPS-CODE:FAMILY'); i++) await sleep(100);
    assert(fs.readFileSync(evil, 'utf8').includes('X-TSPS-CODE:FAMILY'), 'not written back: ' + fs.readFileSync(evil, 'utf8'));
    await pa.click('#btn-voicemail');
    await c.wait();
    c = await call('+4930333333', '+4930111111', 'x');
    await pa.waitForFunction(() => document.getElementById('popup').dataset.held === '1' &&
      document.getElementById('pp-number')?.textContent === '+4930333333' && document.getElementById('pp-code').textContent === 'FAMILY',
    null, { timeout: T(5000) });
    await pa.click('#btn-block');
    await pa.waitForFunction(() => document.getElementById('toast')?.textContent.startsWith('Code BLOCK set (new rule: BLOCK → reject)'), null, { timeout: T(5000) });
    await pa.click('#btn-voicemail');
    await c.wait();
    assert(d.ctl('code', 'list', 'alice').includes('BLOCK'), 'no BLOCK rule');
    const r = await call('+4930333333', '+4930111111', 'x', 'invite_final.xml');
    assert((await r.wait()) === 0 && r.final().status >= 400 && r.final().status < 700, 'blocked caller: ' + JSON.stringify(r.final()));
    for (let i = 0; i < 100 && !fs.readFileSync(evil, 'utf8').includes('X-TSPS-CODE:BLOCK'); i++) await sleep(100);
    assert(fs.readFileSync(evil, 'utf8').includes('X-TSPS-CODE:BLOCK'), 'block not written back');
    const hist = JSON.parse(d.ctl('--json', 'history', 'alice', '--caller', '+4930333333', '--limit', '1'));
    const last = (hist.calls || hist)[0];
    assert(last.code === 'BLOCK' && /^reject/.test(last.method), 'next decision: ' + JSON.stringify(last).slice(0, 300));
  });

  await check('"add to contacts" from an unknown caller: a new card on Radicale, the next call routed with its code', async () => {
    const dav = path.join(work, 'radicale');
    fs.mkdirSync(dav, { recursive: true });
    const st = spawnSync(path.join(opt.repo, 'tests', 'dav', 'radicale.sh'), ['start', dav], { encoding: 'utf8', timeout: 60000 });
    if (st.status === 77) { console.log('  SKIP: radicale not installed (scripts/deps.sh test): CardDAV path NOT checked'); return; }
    assert(st.status === 0, 'radicale start: ' + st.stdout + st.stderr);
    const base = `http://127.0.0.1:${st.stdout.trim()}`;
    const auth = { Authorization: 'Basic ' + Buffer.from('alice:secret').toString('base64') };
    try {
      const mk = await fetch(base + '/alice/book/', { method: 'MKCOL', headers: { ...auth, 'Content-Type': 'application/xml' },
        body: '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>' });
      assert(mk.status === 201, 'MKCOL ' + mk.status);
      d.ctl('source', 'add', 'alice-dav', `carddav:${base}/`, '--user', 'alice', '--interval', '0',
        '--option', 'username=alice', '--option', 'password=secret');
      d.ctl('code', 'set', 'alice', 'FAMILY', 'voicemail');
      const caller = '+4930555001';
      let c = await call(caller, '+4930111111', 'Unknown Fred');
      await pa.bringToFront();
      await pa.goto(d.url + '/');
      await pa.waitForFunction((n) => document.getElementById('popup').dataset.held === '1' &&
        document.getElementById('pp-number')?.textContent === n && document.getElementById('add-contact-form'),
      caller, { timeout: T(5000) });
      /* two address books: the user picks Radicale's */
      await pa.waitForSelector('#pp-add-source option[value="alice-dav"]', { state: 'attached', timeout: T(5000) });
      assert(await pa.isVisible('#pp-add-source'), 'no "Save in" choice with two address books');
      await pa.fill('#pp-add-name', 'Fred <b>Family</b>');
      await pa.fill('#pp-add-code', 'family');
      await pa.selectOption('#pp-add-source', 'alice-dav');
      await pa.click('#btn-add-contact');
      await pa.waitForSelector('#pp-added', { timeout: T(20000) });
      const said = await pa.textContent('#pp-added');
      assert(said.includes('alice-dav') && said.includes('FAMILY'), 'added: ' + said);
      /* on Radicale, as any CardDAV client sees it */
      const pf = await fetch(base + '/alice/book/', { method: 'PROPFIND', headers: { ...auth, Depth: '1' } });
      const listing = await pf.text();
      const hrefs = [...listing.matchAll(/<[^>]*href>([^<]+\.vcf)</g)].map((m) => m[1]);
      assert(pf.status === 207 && hrefs.length === 1, 'PROPFIND: ' + pf.status + ' ' + listing.slice(0, 400));
      const card = await (await fetch(base + hrefs[0], { headers: auth })).text();
      assert(card.includes('X-TSPS-CODE:FAMILY') && card.includes('Fred <b>Family</b>') && card.includes('4930555001'),
        'card on Radicale: ' + card);
      await pa.click('#btn-voicemail');
      await c.wait();
      /* the source synced: the next call from the number routes with FAMILY */
      let hist = null;
      for (let i = 0; i < 100; i++) {
        if (d.ctl('contact', 'list', 'alice', 'Fred').includes('FAMILY')) break;
        await sleep(100);
      }
      c = await call(caller, '+4930111111', 'Unknown Fred', 'invite_final.xml');
      assert((await c.wait()) === 0, 'second call');
      hist = JSON.parse(d.ctl('--json', 'history', 'alice', '--caller', caller, '--limit', '1'));
      const last = (hist.calls || hist)[0];
      assert(last.code === 'FAMILY' && /^voicemail/.test(last.method), 'next decision: ' + JSON.stringify(last).slice(0, 300));
      d.ctl('source', 'remove', 'alice-dav');
    } finally {
      spawnSync(path.join(opt.repo, 'tests', 'dav', 'radicale.sh'), ['stop', dav], { timeout: 30000 });
    }
  });

  await check('"add to contacts" errors are shown in words', async () => {
    const c = await call('+4930555002', '+4930111111', 'x');
    await pa.bringToFront();
    await pa.waitForFunction(() => document.getElementById('pp-number')?.textContent === '+4930555002' &&
      document.getElementById('add-contact-form'), null, { timeout: T(5000) });
    await pa.fill('#pp-add-code', 'no code');
    await pa.click('#btn-add-contact');
    await pa.waitForFunction(() => document.getElementById('pp-add-error').textContent !== '', null, { timeout: T(10000) });
    const t = await pa.textContent('#pp-add-error');
    assert(t.startsWith('The address book refused the contact') || t.startsWith('Could not add the contact'), 'error: ' + t);
    await pa.click('#btn-voicemail');
    await c.wait();
  });

  await check('rules in effect: the winning rule for a sample caller is highlighted', async () => {
    const p = await alice.newPage();
    p.on('pageerror', (e) => errors.push('rules page: ' + e.message));
    await p.goto(d.url + '/settings.html');
    await p.waitForSelector('#effective tbody tr[data-code="VIP"]', { timeout: T(5000) });
    /* VIP/meeting (from the settings check) is in the table as written */
    const meet = await p.textContent('#effective tr[data-code="VIP"] td[data-status="meeting"]');
    assert(meet.startsWith('voicemail'), 'VIP/meeting cell: ' + meet);
    await p.fill('#try-from', '+49 30 222222');
    await p.click('#try-form button');
    await p.waitForSelector('#try-sentence', { timeout: T(5000) });
    const st = JSON.parse(d.ctl('--json', 'status', 'get', 'alice'));
    const status = (st.status && st.status.status) || st.status;
    const win = await p.evaluate(() => [...document.querySelectorAll('#effective td.win')].map((td) => ({
      code: td.parentElement.dataset.code, status: td.dataset.status, text: td.textContent })));
    assert(win.length === 1 && win[0].code === 'VIP' && win[0].status === status, `highlight ${JSON.stringify(win)} status ${status}`);
    const rule = status === 'meeting' ? 'VIP/meeting' : '*/any';
    const rows = await p.evaluate(() => [...document.querySelectorAll('#rules tr.win')].map((tr) => tr.dataset.rule));
    assert(rows.length === 1 && rows[0] === rule, 'winning rule row ' + rows + ' want ' + rule);
    const say = await p.textContent('#try-sentence');
    assert(say.startsWith('Anna Example is a VIP caller;'), 'sentence ' + say);
    await p.screenshot({ path: path.join(opt.artifacts, 'rules.png') });
    await p.close();
  });

  await check('accessibility: axe-core finds no serious or critical violation', async () => {
    const axeSrc = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
    /* bypassCSP: axe is injected as an inline script, which the pages' CSP forbids */
    const ctx = await browser.newContext(Object.assign({}, ctxOpts, { bypassCSP: true }));
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push('axe page: ' + e.message));
    await p.goto(d.ctl('user', 'login-link', 'alice'));
    await p.waitForSelector('#stream.live', { timeout: T(5000) });
    const c = await call('+4930222222', '+4930111111', 'Anna');
    await p.waitForFunction(() => document.getElementById('popup').dataset.held === '1', null, { timeout: T(5000) });
    const bad = [];
    const scan = async (what) => {
      await p.addScriptTag({ content: axeSrc });
      const v = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
        .map((x) => ({ id: x.id, impact: x.impact, n: x.nodes.length, where: x.nodes.slice(0, 2).map((n) => n.target.join(' ')) })));
      for (const x of v) console.log(`  axe ${what}: ${x.impact} ${x.id} x${x.n} ${x.where.join(' | ')}`);
      bad.push(...v.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => what + ': ' + x.id));
    };
    await scan('calls + pop-up');
    await p.click('#btn-voicemail');
    await c.wait();
    await p.goto(d.url + '/log.html');
    await p.waitForSelector('#log tbody tr', { timeout: T(5000) });
    await scan('call log');
    await p.goto(d.url + '/log.html?missed=1&code=' + encodeURIComponent('bad code'));
    await p.waitForFunction(() => !document.getElementById('log-empty').hidden, null, { timeout: T(5000) });
    await scan('call log, filtered, with an error');
    await p.goto(d.url + '/settings.html');
    await p.waitForSelector('#effective tbody tr', { timeout: T(5000) });
    await p.fill('#try-from', '+4930222222');
    await p.click('#try-form button');
    await p.waitForSelector('#try-sentence', { timeout: T(5000) });
    await scan('settings');
    await p.goto(d.url + '/chat.html?call=1');
    await scan('chat');
    const lp = await ctx.newPage();
    await lp.goto(d.url + '/login.html');
    await lp.addScriptTag({ content: axeSrc });
    const lv = await lp.evaluate(async () => (await window.axe.run()).violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => x.id));
    bad.push(...lv.map((x) => 'login: ' + x));
    await ctx.close();
    assert(bad.length === 0, 'serious violations: ' + bad.join(', '));
  });

  await check('password guessing is throttled (429 after 5 failures)', async () => {
    const ctx = await browser.newContext(ctxOpts);
    const p = await ctx.newPage();
    await p.goto(d.url + '/login.html');
    const codes = await p.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 7; i++) {
        const t = (await (await fetch('/api/csrf')).json()).csrf;
        const pw = i === 6 ? 'carol-secret-1' : 'nope-' + i;
        const r = await fetch('/api/login', { method: 'POST', headers: { 'X-CSRF-Token': t }, body: JSON.stringify({ user: 'carol', password: pw }) });
        out.push(r.status);
      }
      return out;
    });
    assert(codes.join() === '401,401,401,401,401,429,429', 'statuses ' + codes);
    await ctx.close();
  });

  await check('revoking an identity sends its open page to the login form', async () => {
    const ctx = await browser.newContext(ctxOpts);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push('bob page: ' + e.message));
    const link = d.ctl('user', 'login-link', 'bob').trim();
    await p.goto(link);
    await p.waitForSelector('#stream.live', { timeout: T(5000) });
    const out = d.ctl('token', 'revoke', 'bob');
    assert(out.includes('1 web session ended'), 'revoke: ' + out);
    // The stream ends, its reconnect gets a 401, the page goes to login.
    await p.waitForURL(/\/login\.html/, { timeout: T(10000) });
    const st = await p.evaluate(async () => (await fetch('/api/me')).status);
    assert(st === 401, 'after revoke: ' + st);
    await ctx.close();
  });

  await check('scripts/run.sh prints the web UI and a login link that opens it', async () => {
    assert(opt.repo, '--repo missing');
    const env = Object.assign({}, process.env, {
      TSPS_BIN_DIR: path.dirname(opt.tspsd), TSPS_DATA: path.join(work, 'rundata'),
      TSPS_PORT: String(await freePort()), TSPS_WEB_PORT: String(await freePort()),
      TSPS_SIP_PORT: '0', TSPS_METRICS_PORT: '-1',
    });
    const rp = spawn('bash', [path.join(opt.repo, 'scripts/run.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    rp.stdout.on('data', (b) => { out += b; });
    rp.stderr.on('data', (b) => { out += b; });
    const exited = new Promise((res) => rp.on('exit', (code, sig) => res({ code, sig })));
    try {
      let link = null;
      for (let i = 0; i < 600 && !link; i++) {
        const m = /^login link[^\n]*: (https:\/\/127\.0\.0\.1:\d+\/login\?t=\S+)$/m.exec(out);
        if (m) link = m[1];
        else await sleep(100);
      }
      assert(link, 'no login link printed:\n' + out);
      assert(new RegExp(`^web UI: https://127\\.0\\.0\\.1:${env.TSPS_WEB_PORT}$`, 'm').test(out), 'no web UI URL:\n' + out);
      const ctx = await browser.newContext(ctxOpts);
      const p = await ctx.newPage();
      p.on('pageerror', (e) => errors.push('run.sh page: ' + e.message));
      await p.goto(link);
      await p.waitForSelector('#stream.live', { timeout: T(10000) });
      const nav = await p.textContent('#nav');
      assert(nav.includes('demo'), 'logged in as the demo user: ' + nav);
      /* the demo user starts without working hours; hours saved in the page
         apply: a day three days away leaves now off-hours */
      await p.goto(link.replace(/\/login\?t=.*/, '/settings.html'));
      await p.waitForSelector('#rules tbody tr', { timeout: T(10000) });
      await p.waitForFunction(() => /^Now: /.test(document.getElementById('status-now').textContent));
      const before = await p.textContent('#status-now');
      assert(!before.includes('off-hours'), 'demo off-hours before: ' + before);
      const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 3) % 7];
      await p.fill('#hours', `${day} 09:00-17:00`);
      await p.click('#hours-form button');
      await p.waitForFunction(() => document.getElementById('hours-note').textContent.includes('apply now'), null, { timeout: T(10000) });
      await p.waitForFunction(() => document.getElementById('status-now').textContent.includes('off-hours'), null, { timeout: T(10000) });
      await ctx.close();
    } finally {
      rp.kill('SIGTERM');
      const t = setTimeout(() => rp.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    }
  });

  await check('voicemail inbox: a message left at the media front shows live with the badge, plays as audio/wav, heard, deleted', async () => {
    const ctx = await browser.newContext(ctxOpts);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push('inbox page: ' + e.message + ' ' + (e.stack || '')));
    p.on('dialog', (dl) => { errors.push('dialog opened: ' + dl.message()); dl.dismiss(); });
    await loginPassword(p, d.url, 'alice', 'alice-secret-1');
    await p.goto(d.url + '/inbox.html');
    /* the page has drawn its nav (with the badge) and read the inbox */
    await p.waitForFunction(() => document.getElementById('vm-badge') &&
      /\d+ new, \d+ heard/.test(document.getElementById('vm-counts').textContent), null, { timeout: T(10000) });
    const before = await p.$$eval('#vm tbody tr', (rs) => rs.length);
    assert(before === 0, 'inbox empty at first: ' + before);
    assert(await p.$eval('#vm-badge', (b) => b.hidden), 'no badge without messages');
    await p.waitForSelector('#stream.live, #nav', { timeout: T(5000) });
    await sleep(300); /* the page's event stream is open */
    /* A caller leaves a message: the row and the badge appear live. */
    const rc = await leaveVoicemail(d, opt.sipp, opt.repo, path.join(work, 'vm1'), 'alice', '+4930222222',
      'Anna <b>Example</b> & Co', 'VIP');
    assert(rc === 0, 'sipp vm_leave rc=' + rc);
    await p.waitForSelector('#vm tbody tr', { timeout: T(15000) });
    await p.waitForFunction(() => document.getElementById('vm-badge')?.textContent === '1' &&
      document.getElementById('vm-badge')?.hidden === false, null, { timeout: T(10000) });
    /* after a reload too, from the API; the contact's name is text */
    await p.reload();
    await p.waitForSelector('#vm tbody tr');
    await p.waitForFunction(() => document.getElementById('vm-badge')?.textContent === '1', null, { timeout: T(10000) });
    const row = await p.textContent('#vm tbody tr');
    assert(row.includes('Anna <b>Example</b> & Co') && row.includes('+4930222222') && row.includes('VIP') &&
      row.includes('New'), 'row: ' + row);
    assert((await p.$$('#vm tbody b')).length === 0, 'markup in a name is shown, never run');
    assert(/0:0[23]/.test(row), 'length about 2-3 s: ' + row);
    const nav = await p.getAttribute('#nav-inbox', 'aria-label');
    assert(nav === 'Inbox, 1 new', 'nav label: ' + nav);
    /* the other pages carry the badge as well */
    await p.goto(d.url + '/log.html');
    await p.waitForFunction(() => document.getElementById('vm-badge')?.textContent === '1', null, { timeout: T(10000) });
    await p.goto(d.url + '/inbox.html');
    await p.waitForSelector('#vm tbody tr audio');
    /* Playing fetches the WAV with the session (200, audio/wav), marks the
     * message heard, and the badge follows live. */
    const audioResp = p.waitForResponse((r) => r.url().includes('/audio'), { timeout: T(15000) });
    await p.click('h1'); /* a user gesture: play() is allowed */
    await p.evaluate(() => {
      const a = document.querySelector('#vm audio');
      window.__vmPlay = { ended: false, error: null };
      a.addEventListener('ended', () => { window.__vmPlay.ended = true; });
      a.addEventListener('error', () => { window.__vmPlay.error = String(a.error && a.error.code); });
      a.play().catch((e) => { window.__vmPlay.error = String(e); });
    });
    const ar = await audioResp;
    assert(ar.status() === 200 || ar.status() === 206, 'audio status ' + ar.status());
    assert((ar.headers()['content-type'] || '') === 'audio/wav', 'content type ' + ar.headers()['content-type']);
    const direct = await p.evaluate(async () => {
      const id = document.querySelector('#vm tbody tr').dataset.vm;
      const r = await fetch(`/api/voicemail/${id}/audio`);
      const b = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, type: r.headers.get('content-type'), riff: String.fromCharCode(...b.slice(0, 4)), len: b.length };
    });
    assert(direct.status === 200 && direct.type === 'audio/wav' && direct.riff === 'RIFF' && direct.len > 16000 * 1.5,
      'audio fetch: ' + JSON.stringify(direct));
    /* The browser decodes the message and plays it to its end: the audio
     * element reaches 'ended', its duration that of the message (2-3 s). */
    await p.waitForFunction(() => window.__vmPlay.ended || window.__vmPlay.error, null, { timeout: T(20000) });
    const played = await p.evaluate(() => ({ ...window.__vmPlay, duration: document.querySelector('#vm audio').duration }));
    assert(played.ended && !played.error && played.duration > 1.5 && played.duration < 4,
      'the inbox player did not play the message to its end: ' + JSON.stringify(played));
    await p.waitForFunction(() => document.querySelector('#vm tbody tr')?.textContent.includes('Heard'), null, { timeout: T(10000) });
    await p.waitForFunction(() => document.getElementById('vm-badge')?.hidden === true, null, { timeout: T(10000) });
    /* Another user gets neither the list nor the audio. */
    const bobCtx = await browser.newContext(ctxOpts);
    const pb = await bobCtx.newPage();
    d.ctl('user', 'web-password', 'bob', 'bob-secret-12');
    await loginPassword(pb, d.url, 'bob', 'bob-secret-12');
    const id = await p.$eval('#vm tbody tr', (r) => r.dataset.vm);
    const bobSees = await pb.evaluate(async (mid) => {
      const a = await fetch(`/api/voicemail/${mid}/audio?user=alice`);
      const l = await fetch('/api/voicemail?user=alice');
      const own = await (await fetch('/api/voicemail')).json();
      return [a.status, l.status, (own.voicemail || []).length];
    }, id);
    assert(bobSees[0] === 403 && bobSees[1] === 403 && bobSees[2] === 0, 'bob: ' + JSON.stringify(bobSees));
    await bobCtx.close();
    /* A POST without the CSRF token is refused. */
    const nocsrf = await p.evaluate(async (mid) => (await fetch(`/api/voicemail/${mid}/delete`, { method: 'POST' })).status, id);
    assert(nocsrf === 403, 'delete without CSRF: ' + nocsrf);
    /* Delete: the row goes, and after a reload the badge says 0. */
    await p.click('#vm tbody tr button');
    await p.waitForFunction(() => document.querySelectorAll('#vm tbody tr').length === 0, null, { timeout: T(10000) });
    await p.reload();
    await p.waitForFunction(() => document.getElementById('vm-empty')?.hidden === false, null, { timeout: T(10000) });
    await p.waitForFunction(() => document.getElementById('vm-badge')?.hidden === true &&
      /^0 new, 0 heard$/.test(document.getElementById('vm-counts').textContent), null, { timeout: T(10000) });
    assert(fs.readdirSync(path.join(d.data, 'media', 'voicemail', 'alice')).filter((f) => f.endsWith('.wav')).length === 0,
      'the WAV is gone from the disk');
    await p.screenshot({ path: path.join(opt.artifacts, 'inbox.png') }).catch(() => {});
    await ctx.close();
  });

  await check('no script errors in any page', async () => {
    assert(errors.length === 0, errors.join('\n'));
  });
  await check('tspsd stays up through it all; SIGHUP reloads the certificate', async () => {
    assert(!d.exited, 'tspsd exited: ' + JSON.stringify(d.exited));
    d.proc.kill('SIGHUP');
    for (let i = 0; i < 30 && !d.logText().includes('web UI: certificate reloaded'); i++) await sleep(100);
    assert(d.logText().includes('web UI: certificate reloaded'), 'no reload line');
    const st = await pa.evaluate(async () => (await fetch('/api/me')).status);
    assert(st === 200, 'after SIGHUP: ' + st);
  });
  if (opt['docs-img'] && fs.existsSync(path.join(opt.artifacts, 'popup.png')))
    fs.copyFileSync(path.join(opt.artifacts, 'popup.png'), opt['docs-img']);
} catch (e) {
  results.push(['setup', false]);
  console.log('FAIL setup: ' + (e.stack || e));
} finally {
  if (browser) await browser.close().catch(() => {});
  await d.stop();
  /* After a clean stop: no sanitizer report (ASan builds), exit 0. */
  await check('tspsd stops cleanly, no sanitizer report', async () => {
    const log = d.logText();
    assert(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(log), 'sanitizer report in the log');
    assert(d.exited && d.exited.code === 0, 'exit ' + JSON.stringify(d.exited));
  });
  if (results.some((r) => !r[1])) {
    console.log('--- tspsd log (tail) ---\n' + d.logText().split('\n').slice(-60).join('\n'));
  } else {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
const failed = results.filter((r) => !r[1]).length;
console.log(`${results.length - failed}/${results.length} passed`);
process.exit(failed ? 1 : 0);
