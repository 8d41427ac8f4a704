// related_web.mjs - related e-mails and documents in the pop-up (issue 11),
// in headless chromium against real servers: a Dovecot (tests/related/
// dovecot.sh) holding mails from a contact, a documents folder with a file
// naming the contact, and a tspsd with [related NAME] sources for them; a
// second user's mail source is a loopback port that accepts and never
// answers. Run by run_web_tests.mjs --suite related (ctest web_related).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { launch, Daemon, SippCall, tmpdir, provision, loginPassword, sleep, SKIP, T } from './lib.mjs';

const DAY = 86400;

function mailDate(daysAgo) {
  return new Date(Date.now() - daysAgo * DAY * 1000).toUTCString().replace('GMT', '+0000');
}

/* One message in Dovecot's Maildir (cur/), `daysAgo` old. */
function writeMail(dir, n, { from, subject, daysAgo, body, attach }) {
  const t = Math.floor(Date.now() / 1000 - daysAgo * DAY);
  const head = `From: ${from}\r\nTo: Alice <alice@example.org>\r\nSubject: ${subject}\r\n` +
    `Date: ${mailDate(daysAgo)}\r\nMessage-ID: <rel${n}@example.org>\r\nMIME-Version: 1.0\r\n`;
  let text;
  if (attach) {
    text = head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n\r\n' + body + '\r\n--b1\r\n' +
      `Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="${attach}"\r\n` +
      'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n';
  } else {
    text = head + 'Content-Type: text/plain; charset=utf-8\r\n\r\n' + body + '\r\n';
  }
  fs.writeFileSync(path.join(dir, `${t}.${n}.test:2,S`), text);
}

export async function relatedTests({ pw, exe, opt }) {
  const results = [];
  const check = async (name, fn) => {
    const t0 = performance.now();
    try {
      await fn();
      results.push([name, true]);
      console.log(`PASS ${name} (${Math.round(performance.now() - t0)} ms)`);
    } catch (e) {
      results.push([name, false]);
      console.log(`FAIL ${name}: ${e.stack || e}`);
    }
  };
  const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

  const work = tmpdir('tsps-webrel-');
  fs.chmodSync(work, 0o755); // as root, Dovecot's mail user must reach its Maildir
  const dov = path.join(work, 'dovecot');
  fs.mkdirSync(dov);
  const dsh = path.join(opt.repo, 'tests/related/dovecot.sh');
  const st = spawnSync('bash', [dsh, 'start', dov], { encoding: 'utf8', timeout: 60000 });
  if (st.status === 77) {
    console.log('SKIP: dovecot missing (apt-get install dovecot-imapd): related pop-up tests NOT run');
    return SKIP;
  }
  if (st.status !== 0) {
    console.log('FAIL setup: dovecot.sh start: ' + st.stdout + st.stderr);
    return 1;
  }
  const imapPort = Number(st.stdout.trim().split(/\s+/)[0]);

  // Mails: three from Anna (one with an attachment, one 200 days old: only
  // in a longer window), one from a stranger.
  const cur = path.join(dov, 'mail/alice/cur');
  const anna = 'Anna Example <anna@example.org>';
  writeMail(cur, 1, { from: anna, subject: 'Offer for <b>Q3</b> & more', daysAgo: 2, attach: 'offer-Q3.pdf',
    body: 'Hello Alice, the <offer> for Q3 is attached. Regards, Anna' });
  writeMail(cur, 2, { from: anna, subject: 'Re: meeting on Tuesday', daysAgo: 9,
    body: 'Tuesday at ten works for me.' });
  writeMail(cur, 3, { from: anna, subject: 'Old contract', daysAgo: 200, body: 'The old one.' });
  writeMail(cur, 4, { from: 'Zed <zed@example.net>', subject: 'Unrelated newsletter', daysAgo: 1, body: 'Buy.' });
  spawnSync('bash', [dsh, 'own', dov]);

  // Documents: one naming Anna (by her name, in the file name), one about
  // nobody, and a link inside the folder to a file outside it.
  const docs = path.join(work, 'docs');
  fs.mkdirSync(path.join(docs, 'Projects'), { recursive: true });
  const noteText = '# Call notes\n\nWhat we agreed on the phone: delivery in May.\n';
  const note = path.join(docs, 'Projects', 'Anna_Example_notes.md');
  fs.writeFileSync(note, noteText);
  fs.writeFileSync(path.join(docs, 'Budget 2027.md'), '# Budget\n\nNobody in particular.\n');
  fs.mkdirSync(path.join(work, 'outside'));
  fs.writeFileSync(path.join(work, 'outside', 'secret.md'), '# Secret\n\nanna@example.org must not see this.\n');
  fs.symlinkSync(path.join(work, 'outside', 'secret.md'), path.join(docs, 'Anna_Example_elsewhere.md'));

  // bob's mail server: accepts, never answers.
  const held = [];
  const dead = net.createServer((s) => { held.push(s); s.on('error', () => {}); });
  await new Promise((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = dead.address().port;

  const d = new Daemon(opt.tspsd, opt.tspsctl, work);
  let browser;
  let nsipp = 0;
  const call = (caller, called, name) => new SippCall(opt.sipp, opt.scenarios, work, ++nsipp).start(d.sipPort, caller, called, name);
  const errors = [];
  try {
    await d.start(`[related mail]
uri = imap://127.0.0.1:${imapPort}/?mailbox=INBOX
user = alice
username = alice
password = secret
timeout_ms = 3000
webmail = https://webmail.example.org/?_task=mail&_mbox={mailbox}&_uid={uid}
[related docs]
uri = docs-dir:${docs}
user = alice
[related bobmail]
uri = imap://127.0.0.1:${deadPort}/?mailbox=INBOX
user = bob
username = bob
password = bob-imap-pw
timeout_ms = 1000
`);
    await provision(d, work);
    // bob's address book: a contact with an address, so his mail is asked.
    const bbook = path.join(work, 'bob-book');
    fs.mkdirSync(bbook);
    fs.writeFileSync(path.join(bbook, 'dan.vcf'), 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dan Dead\r\n' +
      'TEL:+49 30 555555\r\nEMAIL:dan@example.net\r\nUID:dan-1\r\nEND:VCARD\r\n');
    d.ctl('source', 'add', 'bob-book', `vcard-dir:${bbook}`, '--user', 'bob', '--interval', '0');
    d.ctl('source', 'sync', 'bob-book');
    for (let i = 0; i < 100 && !d.ctl('contact', 'list', 'bob').includes('Dan Dead'); i++) await sleep(100);
    d.ctl('user', 'web-password', 'bob', 'bob-secret-12');

    browser = await launch(pw, exe, work);
    const ctxOpts = { ignoreHTTPSErrors: true, viewport: { width: 1100, height: 1000 }, acceptDownloads: true };
    const alice = await browser.newContext(ctxOpts);
    const pa = await alice.newPage();
    pa.on('pageerror', (e) => errors.push('alice page: ' + e.message));
    await loginPassword(pa, d.url, 'alice', 'alice-secret-1');
    await pa.waitForSelector('#stream.live', { timeout: T(5000) });

    let c1;
    let callId;
    let docHref;
    await check('a call pops up at once; its e-mails and documents arrive in the pop-up', async () => {
      c1 = await call('+4930222222', '+4930111111', 'Anna');
      await pa.waitForFunction(() => (document.getElementById('pp-name') || {}).textContent === 'Anna Example',
        null, { timeout: T(5000), polling: 'raf' });
      const shownAt = Date.now();
      callId = await pa.evaluate(() => document.getElementById('popup').dataset.call);
      await pa.waitForFunction(() => document.querySelectorAll('#pp-related-list .rel-item').length >= 3,
        null, { timeout: T(15000) });
      console.log(`  related items ${Date.now() - shownAt} ms after the pop-up showed the call`);
      const items = await pa.$$eval('#pp-related-list .rel-item', (els) => els.map((e) => ({
        kind: e.dataset.kind, text: e.textContent,
        href: (e.querySelector('a.rel-open') || {}).href || '',
        download: (e.querySelector('a.rel-open') || { hasAttribute: () => false }).hasAttribute('download'),
        title: (e.querySelector('a.rel-open, .rel-title') || {}).textContent,
        time: (e.querySelector('time') || {}).textContent || '',
      })));
      const mails = items.filter((i) => i.kind === 'email');
      const docsIt = items.filter((i) => i.kind === 'document');
      assert(mails.length === 2, 'two mails of the last 30 days: ' + JSON.stringify(items));
      const offer = mails.find((m) => m.title === 'Offer for <b>Q3</b> & more');
      assert(offer, 'the subject as text (escaped): ' + JSON.stringify(mails));
      assert(offer.text.includes('E-mail') && offer.time !== '', 'kind and date: ' + offer.text);
      assert(offer.text.includes('from Anna Example <anna@example.org>') && offer.text.includes('to Alice'), 'from/to: ' + offer.text);
      assert(offer.text.includes('the <offer> for Q3 is attached'), 'snippet: ' + offer.text);
      assert(offer.text.includes('Attachments: offer-Q3.pdf'), 'attachments: ' + offer.text);
      assert(/^https:\/\/webmail\.example\.org\/\?_task=mail&_mbox=INBOX&_uid=\d+$/.test(offer.href), 'webmail link: ' + offer.href);
      assert(!items.some((i) => i.text.includes('Unrelated') || i.text.includes('Old contract')), 'stranger or old mail shown');
      const nd = docsIt.find((i) => i.text.includes('Call notes'));
      assert(nd, 'the document naming Anna: ' + JSON.stringify(docsIt));
      assert(nd.download && nd.href.includes('/api/related/doc?call='), 'document link: ' + nd.href);
      assert(!items.some((i) => i.text.includes('Budget')), 'a document about nobody is shown');
      assert(!items.some((i) => i.text.includes('Secret') || i.text.includes('must not see')),
        'a link inside the folder to a file outside it is shown: ' + JSON.stringify(items));
      docHref = nd.href;
      const none = await pa.evaluate(() => document.querySelectorAll('#popup script, #popup b').length);
      assert(none === 0, 'markup from a subject became elements');
      assert(d.logText().includes('msg="related items left out" count=1'), 'the left-out link is not logged');
      await pa.screenshot({ path: path.join(opt.artifacts, 'popup-related.png'), fullPage: true });
    });

    await check('the document link downloads the file through the web UI (200, same bytes, attachment)', async () => {
      const [dl] = await Promise.all([pa.waitForEvent('download', { timeout: T(10000) }),
        pa.click('#pp-related-list .kind-document a.rel-open:text("Call notes")')]);
      assert(!(await dl.failure()), 'download failed: ' + await dl.failure());
      const p = await dl.path();
      const got = fs.readFileSync(p, 'utf8');
      assert(got === noteText, 'downloaded bytes differ: ' + JSON.stringify(got));
      assert(dl.suggestedFilename() === 'Anna_Example_notes.md', 'file name: ' + dl.suggestedFilename());
      const r = await pa.evaluate(async (u) => {
        const x = await fetch(u);
        return { status: x.status, cd: x.headers.get('content-disposition'), ct: x.headers.get('content-type'), body: await x.text() };
      }, docHref);
      assert(r.status === 200 && r.body === noteText, 'fetch: ' + JSON.stringify(r));
      assert(r.cd.startsWith('attachment;') && r.ct === 'application/octet-stream', 'headers: ' + JSON.stringify(r));
    });

    await check('document downloads are refused: not related, outside the folder, bad link, other call, no right, no login', async () => {
      const base = `/api/related/doc?call=${callId}&url=`;
      const f = (u) => base + encodeURIComponent(u);
      const fileUrl = (p) => 'file://' + p.split('/').map((x) => encodeURIComponent(x)).join('/');
      const cases = [
        ['a document about nobody', f(fileUrl(path.join(docs, 'Budget 2027.md'))), 404],
        ['the folder\'s index', f(fileUrl(path.join(docs, '.tsps-docs-index'))), 404],
        ['../ out of the folder', f('file://' + docs + '/Projects/../../outside/secret.md'), 404],
        ['a link inside to a file outside', f(fileUrl(path.join(docs, 'Anna_Example_elsewhere.md'))), 404],
        ['an absolute path elsewhere', f('file:///etc/passwd'), 404],
        ['not a file link', f('https://example.org/x'), 400],
        ['no url', `/api/related/doc?call=${callId}`, 400],
        ['a call that does not exist', `/api/related/doc?call=999999&url=${encodeURIComponent(fileUrl(note))}`, 404],
      ];
      for (const [what, u, want] of cases) {
        const r = await pa.evaluate(async (x) => {
          const y = await fetch(x);
          return { status: y.status, body: await y.text() };
        }, u);
        assert(r.status === want, `${what}: ${r.status} (want ${want}) ${r.body}`);
        assert(!r.body.includes('must not see') && !r.body.includes('root:'), `${what}: the file leaked`);
      }
      // carol attends alice with monitor + act but not related
      const cc = await browser.newContext(ctxOpts);
      const pc = await cc.newPage();
      pc.on('pageerror', (e) => errors.push('carol page: ' + e.message));
      await loginPassword(pc, d.url, 'carol', 'carol-secret-1');
      const rc = await pc.evaluate(async (x) => (await fetch(x)).status, docHref);
      assert(rc === 403, 'carol without the related right: ' + rc);
      await cc.close();
      // bob: another user
      const bc = await browser.newContext(ctxOpts);
      const pb = await bc.newPage();
      await loginPassword(pb, d.url, 'bob', 'bob-secret-12');
      const rb = await pb.evaluate(async (x) => (await fetch(x)).status, docHref);
      assert(rb === 404, 'bob, another user: ' + rb);
      await bc.close();
      // nobody logged in
      const anon = await browser.newContext(ctxOpts);
      const r0 = await anon.request.get(docHref);
      assert(r0.status() === 401, 'not logged in: ' + r0.status());
      await anon.close();
      assert(d.logText().includes('related document refused'), 'refusals are logged');
    });

    await check('the date filter asks again: 365 days shows the old mail, back to the criteria hides it', async () => {
      await pa.selectOption('#rel-window', '365');
      await pa.waitForFunction(() => (document.getElementById('pp-related-list') || {}).textContent?.includes('Old contract'),
        null, { timeout: T(10000) });
      await pa.selectOption('#rel-window', '');
      await pa.waitForFunction(() => {
        const l = document.getElementById('pp-related-list');
        return l && !l.textContent.includes('Old contract') && l.textContent.includes('Offer for');
      }, null, { timeout: T(10000) });
      await pa.click('#btn-reject');
      const rc = await c1.wait();
      assert(rc === 0, 'sipp rc ' + rc);
    });

    await check('an earlier call opened later asks for its items; axe-core: no serious or critical violation', async () => {
      const axeSrc = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
      /* bypassCSP: axe is injected as an inline script, which the CSP forbids */
      const ctx = await browser.newContext(Object.assign({}, ctxOpts, { bypassCSP: true }));
      const p = await ctx.newPage();
      p.on('pageerror', (e) => errors.push('axe page: ' + e.message));
      await p.goto(d.ctl('user', 'login-link', 'alice'));
      await p.waitForSelector('#stream.live', { timeout: T(5000) });
      await p.goto(`${d.url}/?call=${callId}`);
      await p.waitForFunction(() => (document.getElementById('pp-related-list') || {}).textContent?.includes('Offer for'),
        null, { timeout: T(10000) });
      await p.addScriptTag({ content: axeSrc });
      const v = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
        .map((x) => ({ id: x.id, impact: x.impact, n: x.nodes.length, where: x.nodes.slice(0, 2).map((n) => n.target.join(' ')) })));
      for (const x of v) console.log(`  axe: ${x.impact} ${x.id} x${x.n} ${x.where.join(' | ')}`);
      const bad = v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
      assert(!bad.length, 'axe: ' + bad.map((x) => x.id).join(', '));
      await ctx.close();
    });

    await check('a mail server that never answers: the call at once, "mail unavailable (...)" within a bounded time', async () => {
      const bc = await browser.newContext(ctxOpts);
      const pb = await bc.newPage();
      pb.on('pageerror', (e) => errors.push('bob page: ' + e.message));
      await loginPassword(pb, d.url, 'bob', 'bob-secret-12');
      await pb.waitForSelector('#stream.live', { timeout: T(5000) });
      const c = await call('+4930555555', '+4930600600', 'Dan');
      await pb.waitForFunction(() => (document.getElementById('pp-name') || {}).textContent === 'Dan Dead',
        null, { timeout: T(5000), polling: 'raf' });
      const shown = Date.now();
      const callAt = shown - (performance.now() - c.t0);
      console.log(`  bob's pop-up ${Math.round(shown - callAt)} ms after sipp started`);
      assert(shown - callAt < 3000, 'the call waited for the mail server');
      const wait = await pb.textContent('#pp-related');
      assert(wait.includes('Looking for'), 'while looking: ' + wait);
      await pb.waitForFunction(() => /mail unavailable \(.+\)/.test((document.getElementById('pp-related-status') || {}).textContent || ''),
        null, { timeout: T(12000) });
      const ms = Date.now() - shown;
      const txt = await pb.textContent('#pp-related-status');
      console.log(`  "${txt}" ${ms} ms after the call was shown (timeout_ms 1000)`);
      assert(ms < 10000, 'took ' + ms + ' ms');
      assert(!d.logText().includes('bob-imap-pw'), 'the IMAP password is in the log');
      await pb.screenshot({ path: path.join(opt.artifacts, 'popup-related-unavailable.png'), fullPage: true });
      await pb.click('#btn-reject');
      await c.wait();
      await bc.close();
    });

    await check('no script errors in the pages', async () => {
      assert(errors.length === 0, errors.join('\n'));
    });
  } catch (e) {
    results.push(['setup', false]);
    console.log('FAIL setup: ' + (e.stack || e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    await d.stop();
    for (const s of held) s.destroy();
    dead.close();
    spawnSync('bash', [dsh, 'stop', dov]);
    await check('tspsd stops cleanly, no sanitizer report', async () => {
      const log = d.logText();
      assert(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(log), 'sanitizer report in the log');
      assert(d.exited && d.exited.code === 0, 'exit ' + JSON.stringify(d.exited));
    });
    if (results.some((r) => !r[1]))
      console.log('--- tspsd log (tail) ---\n' + d.logText().split('\n').slice(-80).join('\n'));
    else
      fs.rmSync(work, { recursive: true, force: true });
  }
  const failed = results.filter((r) => !r[1]).length;
  console.log(`${results.length - failed}/${results.length} passed`);
  return failed ? 1 : 0;
}
