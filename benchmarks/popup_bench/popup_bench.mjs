// popup_bench.mjs - the override round trip of the web pop-up: a SIP call
// is held for a decision (sipp -> tspsd), the pop-up shows it in headless
// chromium, a click on "Forward to" goes out, and sipp receives the 302.
// Measured from the click in the page to the 302 in sipp's message log
// (both wall clock, same machine), over N calls. Prints name=value lines:
//   popup_to_302_ms_p50= popup_to_302_ms_p99= (and offer_to_popup_ms_*)
// Usage: node popup_bench.mjs --tspsd BIN --tspsctl BIN --sipp BIN
//        --scenarios tests/sip/scenarios [--calls N]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  findChromium, loadPlaywright, launch, Daemon, SippCall, tmpdir, provision, loginPassword,
} from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    tspsd: { type: 'string' }, tspsctl: { type: 'string' }, sipp: { type: 'string' },
    scenarios: { type: 'string' }, calls: { type: 'string', default: '20' },
  },
});
const N = Math.max(1, Number(opt.calls));
const exe = findChromium();
const pw = await loadPlaywright();
if (!exe || !pw) {
  console.error('popup_bench: needs chromium and playwright-core');
  process.exit(77);
}

/** Wall-clock ms of the first received 302 in a sipp message log. */
function time302(dir) {
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('_messages.log')) continue;
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const re = /-{10,} (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d+)\n[^\n]*message received[^\n]*\n\nSIP\/2\.0 302/g;
    const m = re.exec(text);
    if (m) return new Date(`${m[1]}T${m[2]}`).getTime() + Number(`0.${m[3]}`) * 1000;
  }
  return NaN;
}

function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const work = tmpdir('tsps-popup-bench-');
const d = new Daemon(opt.tspsd, opt.tspsctl, work);
let browser;
const rt = [];
const show = [];
try {
  await d.start();
  await provision(d, work, { timeout: 60 });
  browser = await launch(pw, exe, work);
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await loginPassword(page, d.url, 'alice', 'alice-secret-1');
  await page.waitForSelector('#stream.live');
  for (let i = 0; i < N; i++) {
    const c = await new SippCall(opt.sipp, opt.scenarios, work, i + 1).start(d.sipPort, '+4930222222', '+4930111111', 'Anna');
    const shownAt = await (await page.waitForFunction(() => {
      const p = document.getElementById('popup');
      const b = document.getElementById('btn-forward');
      return p && p.dataset.held === '1' && b && !b.disabled && p.dataset.call && Date.now();
    }, null, { timeout: 10000, polling: 'raf' })).jsonValue();
    show.push(shownAt - d.offeredAt());
    await page.fill('#forward-number', '+4930777777');
    const clickAt = await page.evaluate(() => {
      const t = performance.timeOrigin + performance.now();
      document.getElementById('btn-forward').click();
      return t;
    });
    const rc = await c.wait(15000);
    const t302 = time302(c.dir);
    if (rc !== 0 || Number.isNaN(t302)) throw new Error(`call ${i + 1}: sipp rc ${rc}, no 302`);
    rt.push(t302 - clickAt);
    /* Let the page settle (outcome update) before the next call. */
    await page.waitForFunction(() => document.getElementById('popup').dataset.held === '0');
  }
  console.log(`popup_calls=${N}`);
  console.log(`popup_to_302_ms_p50=${pct(rt, 50).toFixed(1)}`);
  console.log(`popup_to_302_ms_p99=${pct(rt, 99).toFixed(1)}`);
  console.log(`popup_to_302_ms_max=${Math.max(...rt).toFixed(1)}`);
  console.log(`offer_to_popup_ms_p50=${pct(show, 50).toFixed(1)}`);
  console.log(`offer_to_popup_ms_p99=${pct(show, 99).toFixed(1)}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await d.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
