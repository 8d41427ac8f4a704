// lib.mjs - helpers for the browser tests and the pop-up benchmark: a real
// tspsd on free loopback ports with a throwaway config, tspsctl, sipp, and
// headless Debian chromium through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';

export const SKIP = 77;

export function findChromium() {
  for (const p of [process.env.TSPS_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'])
    if (p && fs.existsSync(p)) return p;
  return null;
}

export async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (_) {
    return null;
  }
}

export const CHROME_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export async function launch(pw, exe, dir) {
  // playwright gives every launch a fresh, empty user-data-dir of its own.
  void dir;
  return pw.chromium.launch({ executablePath: exe, args: CHROME_ARGS, headless: true });
}

async function tcpFree(port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

async function udpFree(port) {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => res(false));
    s.bind(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

export async function freePort(udp = false) {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await tcpFree(p)) && (!udp || (await udpFree(p)))) return p;
  }
  throw new Error('no free port');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* How long a test waits for something the page should show. The waits are
 * sized for a quiet machine; CI's 2 cores are often shared with builds, where
 * a page load or an event can take several times longer. A wait only bounds
 * how long a failing check takes, it never measures: so each is scaled
 * (TSPS_WEB_WAIT_SCALE, default 4). */
const WAIT_SCALE = Number(process.env.TSPS_WEB_WAIT_SCALE) > 0 ? Number(process.env.TSPS_WEB_WAIT_SCALE) : 4;
export const T = (ms) => ms * WAIT_SCALE;

export class Daemon {
  constructor(bin, ctl, dir) {
    this.bin = bin;
    this.ctlBin = ctl;
    this.dir = dir;
    this.data = path.join(dir, 'data');
  }

  /** Start it; `extra` is appended to the config (e.g. [related NAME]). */
  async start(extra = '') {
    this.ctlPort = await freePort();
    this.sipPort = await freePort(true);
    this.mediaPort = await freePort(true);
    this.rtpBase = 40000 + 64 * Math.floor(Math.random() * 300);
    const conf = path.join(this.dir, 'tspsd.conf');
    fs.writeFileSync(conf, `[tspsd]
data_dir = ${this.data}
log_level = info
[control]
listen = 127.0.0.1
port = ${this.ctlPort}
[metrics]
port = -1
[sip]
enabled = true
listen = 127.0.0.1
udp_port = ${this.sipPort}
tcp_port = ${this.sipPort}
ask_timeout = 30
auth_register = false
[web]
listen = 127.0.0.1
port = 0
invite_lifetime = 600
[media]
enabled = true
sip_port = ${this.mediaPort}
rtp_port_min = ${this.rtpBase}
rtp_port_max = ${this.rtpBase + 63}
[admin]
identities = admin
${extra}`);
    this.log = fs.openSync(path.join(this.dir, 'tspsd.log'), 'w');
    this.proc = spawn(this.bin, ['-c', conf], { stdio: ['ignore', this.log, this.log] });
    this.exited = null;
    this.proc.on('exit', (code, sig) => { this.exited = { code, sig }; });
    const urlFile = path.join(this.data, 'web.url');
    for (let i = 0; i < 100; i++) {
      if (this.exited) throw new Error('tspsd exited: ' + JSON.stringify(this.exited) + '\n' + this.logText());
      if (fs.existsSync(urlFile) && fs.existsSync(path.join(this.data, 'client.conf'))) {
        this.url = fs.readFileSync(urlFile, 'utf8').trim();
        return this;
      }
      await sleep(100);
    }
    throw new Error('tspsd did not start\n' + this.logText());
  }

  logText() {
    try { return fs.readFileSync(path.join(this.dir, 'tspsd.log'), 'utf8'); } catch (_) { return ''; }
  }

  /** Wall-clock ms of the last "call offered" log line (SIP arrival). */
  offeredAt() {
    const m = [...this.logText().matchAll(/^ts=(\S+) .*msg="call offered"/gm)];
    return m.length ? Date.parse(m[m.length - 1][1]) : NaN;
  }

  ctl(...args) {
    const r = spawnSync(this.ctlBin, ['--data', this.data, ...args], { encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0)
      throw new Error(`tspsctl ${args.join(' ')}: rc=${r.status} ${r.stdout} ${r.stderr}`);
    return r.stdout.trim();
  }

  async stop() {
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGTERM');
    for (let i = 0; i < 50 && !this.exited; i++) await sleep(100);
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

/** An INVITE: sipp with tests/sip/scenarios/invite_held.xml (held for a
 *  decision), or another scenario of that folder (invite_final.xml,
 *  invite_cancel.xml). */
export class SippCall {
  constructor(sipp, scenarios, dir, n, scenario = 'invite_held.xml') {
    this.dir = path.join(dir, `sipp${n}`);
    fs.mkdirSync(this.dir, { recursive: true });
    this.sipp = sipp;
    this.scen = path.resolve(scenarios, scenario);
  }

  async start(port, caller, called, name) {
    const lp = await freePort(true);
    const args = ['-sf', this.scen, `127.0.0.1:${port}`, '-i', '127.0.0.1', '-p', String(lp),
      '-m', '1', '-nostdin', '-timeout', '60', '-timeout_error', '-trace_msg', '-trace_err',
      '-key', 'called', called, '-key', 'caller', caller, '-key', 'caller_name', name];
    this.t0 = performance.now();
    this.proc = spawn(this.sipp, args, { cwd: this.dir, stdio: 'ignore' });
    this.done = new Promise((res) => this.proc.on('exit', (code) => { this.t1 = performance.now(); res(code); }));
    return this;
  }

  async wait(ms = 20000) {
    const t = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const rc = await this.done;
    clearTimeout(t);
    return rc;
  }

  /** The final response sipp received (status line and Contact). */
  final() {
    for (const f of fs.readdirSync(this.dir)) {
      if (!f.endsWith('_messages.log')) continue;
      const text = fs.readFileSync(path.join(this.dir, f), 'utf8');
      const parts = text.split(/\n-{10,} [^\n]*\n/);
      let last = null;
      for (const p of parts) {
        const m = /message received \[\d+\] bytes :\n\n(SIP\/2\.0 (\d{3})[^\n]*)\n([\s\S]*)/.exec(p);
        if (m && Number(m[2]) >= 200) {
          const contact = /^(?:Contact|m):\s*(.*)$/im.exec(m[3]);
          last = { status: Number(m[2]), line: m[1], contact: contact ? contact[1] : '' };
        }
      }
      return last;
    }
    return null;
  }
}

/** Run one sipp scenario to completion (REGISTER etc.); resolves to rc. */
export async function sippRun(sipp, scenarios, dir, port, scenario, keys, extra = []) {
  const lp = await freePort(true);
  fs.mkdirSync(dir, { recursive: true });
  const args = ['-sf', path.resolve(scenarios, scenario), `127.0.0.1:${port}`, '-i', '127.0.0.1',
    '-p', String(lp), '-m', '1', '-nostdin', '-timeout', '20', '-timeout_error', '-trace_msg', '-trace_err', ...extra];
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  const p = spawn(sipp, args, { cwd: dir, stdio: 'ignore' });
  return new Promise((res) => p.on('exit', (code) => res(code)));
}

/** G.711 mu-law of one 16-bit sample. */
function ulaw(x) {
  const BIAS = 0x84;
  let sign = 0;
  if (x < 0) { sign = 0x80; x = -x; }
  x = Math.min(x, 32635) + BIAS;
  let exp = 7;
  for (let m = 0x4000; (x & m) === 0 && exp > 0; m >>= 1) exp--;
  return ~(sign | (exp << 4) | ((x >> (exp + 3)) & 0x0f)) & 0xff;
}

/** A tone as raw PCMU (for sipp's rtp_stream) and as a WAV (greetings). */
export function tone(seconds, hz, file, wav = false) {
  const n = Math.round(seconds * 8000);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(9000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  if (!wav) {
    fs.writeFileSync(file, Buffer.from(Array.from(pcm, ulaw)));
    return;
  }
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(pcm[i], 44 + 2 * i);
  fs.writeFileSync(file, b);
}

/** Leave a voicemail for `user` at tspsd's media front: a token signed
 *  with the daemon's key (as the SIP front's 302 carries it), then sipp
 *  with tests/media/scenarios/vm_leave.xml streaming a 2 s tone. */
export async function leaveVoicemail(d, sipp, repo, dir, user, caller, contact, code) {
  const crypto = await import('node:crypto');
  fs.mkdirSync(dir, { recursive: true });
  const key = fs.readFileSync(path.join(d.data, 'media-token.key'));
  const payload = Buffer.from([user, caller, contact, code, '0', 'en', String(Math.floor(Date.now() / 1000) + 120)].join('|'));
  const token = payload.toString('hex') + '.' + crypto.createHmac('sha256', key).update(payload).digest('hex');
  const greet = path.join(d.data, 'media', 'greetings', user);
  fs.mkdirSync(greet, { recursive: true });
  if (!fs.existsSync(path.join(greet, 'default.wav'))) tone(0.5, 600, path.join(greet, 'default.wav'), true);
  const voice = path.join(dir, 'voice.ulaw');
  tone(2.0, 440, voice);
  const xml = fs.readFileSync(path.join(repo, 'tests/media/scenarios/vm_leave.xml'), 'utf8')
    .replaceAll('@VOICE@', voice).replaceAll('@WAIT@', '2800');
  fs.writeFileSync(path.join(dir, 'vm_leave.xml'), xml);
  const mp = 2 * Math.floor((await freePort(true)) / 2);
  return sippRun(sipp, dir, dir, d.mediaPort, 'vm_leave.xml', {},
    ['-s', 'vm.' + token, '-mp', String(mp), '-d', '1500']);
}

export function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Users, a vCard/iCal folder synced as alice's address book, rules. */
export async function provision(d, dir, opts = {}) {
  const book = path.join(dir, 'book');
  fs.mkdirSync(book, { recursive: true });
  const card = (uid, fn, org, tel, email, code) => `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:${fn}\r\nORG:${org}\r\nTEL;TYPE=WORK:${tel}\r\n${email ? `EMAIL:${email}\r\n` : ''}X-TSPS-CODE:${code}\r\nUID:${uid}\r\nEND:VCARD\r\n`;
  fs.writeFileSync(path.join(book, 'anna.vcf'), card('anna-1', 'Anna Example', 'Example & Co', '+49 30 222222', 'anna@example.org', 'VIP'));
  // a switchboard number on two cards that agree on the code
  fs.writeFileSync(path.join(book, 'acme.vcf'), card('acme-1', 'Acme Ltd', 'Acme Ltd', '+49 30 444444', '', 'VIP'));
  fs.writeFileSync(path.join(book, 'acme-ann.vcf'), card('acme-2', 'Ann Lee', 'Acme Ltd', '+49 30 444444', '', 'VIP'));
  fs.writeFileSync(path.join(book, 'evil.vcf'), card('evil-1', '<script>window.__xss=1</script><img src=x onerror=alert(1)>', '<b>Org</b>', '+49 30 333333', '', 'VIP'));
  const day = (off) => { const t = new Date(Date.now() + off * 86400000); return t.toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z'; };
  fs.writeFileSync(path.join(book, 'cal.ics'), `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tsps//test//EN\r\nBEGIN:VEVENT\r\nUID:ev-next@test\r\nDTSTART:${day(2)}\r\nDTEND:${day(2.05)}\r\nSUMMARY:Contract review with Anna\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:anna@example.org\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:ev-past@test\r\nDTSTART:${day(-3)}\r\nDTEND:${day(-2.95)}\r\nSUMMARY:Kick-off with Anna\r\nATTENDEE:mailto:anna@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`);
  d.ctl('user', 'add', 'alice', '--name', 'Alice', '--region', 'DE', '--number', '+4930111111', '--tz', 'Europe/Berlin', '--voicemail', 'sip:vm-alice@vm.tsps.test', '--attendant', 'sip:carol@desk.tsps.test');
  d.ctl('user', 'add', 'bob', '--name', 'Bob', '--region', 'DE', '--number', '+4930600600');
  const timeout = opts.timeout || 30;
  d.ctl('code', 'set', 'alice', '*', 'ask', `timeout=${timeout}`, 'then', 'voicemail');
  d.ctl('code', 'set', 'bob', '*', 'ask', `timeout=${timeout}`, 'then', 'voicemail');
  d.ctl('source', 'add', 'alice-book', `vcard-dir:${book}`, '--user', 'alice', '--interval', '0');
  d.ctl('source', 'sync', 'alice-book');
  for (let i = 0; i < 100; i++) {
    const out = d.ctl('contact', 'list', 'alice');
    if (out.includes('Anna Example') && out.includes('script')) break;
    await sleep(100);
  }
  d.ctl('user', 'web-password', 'alice', 'alice-secret-1');
  d.ctl('user', 'web-password', 'carol', 'carol-secret-1');
  d.ctl('delegate', 'alice', 'carol', '--monitor', '--act');
}

export async function loginPassword(page, base, user, pw) {
  await page.goto(base + '/login.html');
  await page.fill('#user', user);
  await page.fill('#password', pw);
  await Promise.all([page.waitForURL(base + '/'), page.click('#login-btn')]);
}
