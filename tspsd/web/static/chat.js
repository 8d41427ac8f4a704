// chat.js - a web chat room tied to one call: transcript, POST to send,
// the event stream to receive. Users and invited guests use the same page.
import { api, events, h, clear, fmtTime, setCsrf, toast } from './api.js';

const call = Number(new URLSearchParams(location.search).get('call'));
const list = document.getElementById('messages');
const seen = new Set();

function add(m) {
  const key = `${m.at}|${m.from}|${m.text}`;
  if (seen.has(key)) return;
  seen.add(key);
  list.append(h('li', { class: m.guest ? 'guest' : 'user' },
    h('span', { class: 'from' }, m.from), ' ', h('time', {}, fmtTime(m.at)),
    h('p', { class: 'text' }, m.text)));
  list.scrollTop = list.scrollHeight;
}

async function main() {
  const room = await api('GET', `/api/chat/${call}`);
  setCsrf(room.csrf);
  document.getElementById('chat-about').textContent =
    `Call ${room.call_id} of ${room.user} · you are ${room.me || 'a guest'}`;
  clear(list);
  for (const m of room.messages) add(m);
  const st = document.getElementById('stream');
  events({ 'chat.message': (m) => { if (m.call_id === call) add(m); } },
    (s) => { st.textContent = s; st.className = 'stream ' + s; });
  const f = document.getElementById('chat-form');
  const t = document.getElementById('chat-text');
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      add(await api('POST', `/api/chat/${call}/msg`, { text: t.value }));
      t.value = '';
    } catch (e) { toast('Not sent: ' + e.message, true); }
  });
  if (!room.guest) {
    document.getElementById('chat-invite-row').hidden = false;
    document.getElementById('chat-invite-btn').addEventListener('click', async () => {
      try {
        const inv = await api('POST', `/api/chat/${call}/invite`);
        document.getElementById('chat-invite').value = inv.invite_url;
      } catch (e) { toast(e.message, true); }
    });
  }
  t.focus();
}

main().catch((e) => document.body.append(h('p', { class: 'error' }, 'Chat: ' + e.message)));
