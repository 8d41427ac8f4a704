// login.js - password login with a pre-session CSRF token (double submit).
import { api, setCsrf } from './api.js';

const err = document.getElementById('login-error');
const why = new URLSearchParams(location.search).get('error');
if (why === 'link') err.textContent = 'That login link is not valid (each link works once).';
if (why === 'expired') err.textContent = 'That login link has expired.';
if (why === 'invite') err.textContent = 'That chat invitation is not valid or has expired.';

document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  err.textContent = '';
  try {
    const pre = await api('GET', '/api/csrf');
    setCsrf(pre.csrf);
    await api('POST', '/api/login', {
      user: document.getElementById('user').value.trim(),
      password: document.getElementById('password').value,
    });
    location.href = '/';
  } catch (e) {
    err.textContent = e.status === 401 ? 'Wrong user or password.'
      : e.status === 429 ? 'Too many failed attempts: wait a few minutes.'
        : 'Login failed: ' + e.message;
  }
});
