// The JWT decoder page. Everything happens here, in the page: the token is decoded by edgegate's
// decode-only WebAssembly module (./pkg/edgegate.js) and shown with textContent only. No token
// is ever sent anywhere or stored; the only network requests are this page's own static files.
//
// Decoded is not verified: the module never checks a signature, and neither does this page.
import init, { decode } from './pkg/edgegate.js';

const $ = (id) => document.getElementById(id);
const ui = {
  token: $('token'),
  flagEmails: $('flag-emails'),
  example: $('example'),
  clear: $('clear'),
  status: $('status'),
  error: $('error'),
  errorCode: $('error-code'),
  errorPart: $('error-part'),
  errorMessage: $('error-message'),
  result: $('result'),
  warnings: $('warnings'),
  noWarnings: $('no-warnings'),
  iat: $('iat'),
  nbf: $('nbf'),
  exp: $('exp'),
  lifetime: $('lifetime'),
  countdown: $('countdown'),
  header: $('header'),
  claims: $('claims'),
  facts: $('facts'),
};

/** The last successful decode, for the countdown. */
let current = null;

/** Trims whitespace and an optional "Bearer " prefix (what people copy from a request). */
function normalize(text) {
  let t = text.trim();
  const m = /^bearer\s+/i.exec(t);
  if (m) t = t.slice(m[0].length).trim();
  return t;
}

/** "1h 02m 03s", "4m 05s", "7s" for a non-negative number of seconds. */
function duration(seconds) {
  let s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m ${pad(s)}s`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

function when(seconds, now) {
  if (seconds === null) return 'absent';
  const date = new Date(seconds * 1000);
  const iso = Number.isFinite(date.getTime()) ? date.toISOString().replace('.000Z', 'Z') : '?';
  const delta = seconds - now;
  const rel = Math.abs(delta) < 1 ? 'now' : delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
  return `${seconds} · ${iso} · ${rel}`;
}

function show(el, visible) {
  el.hidden = !visible;
}

function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

/** Updates everything that depends on the clock: the times' relative parts and the countdown. */
function tick() {
  if (!current) return;
  const now = Date.now() / 1000;
  const r = current;
  ui.iat.textContent = when(r.issuedAt, now);
  ui.nbf.textContent = when(r.notBefore, now);
  ui.exp.textContent = when(r.expiresAt, now);
  let state;
  let text;
  if (r.expiresAt === null) {
    state = 'no-exp';
    text = 'no valid exp: never expires';
  } else {
    const left = r.expiresAt - now;
    if (Math.floor(r.expiresAt) <= now) {
      state = 'expired';
      text = `expired ${duration(left)} ago`;
    } else {
      state = 'live';
      text = `expires in ${duration(left)}`;
    }
  }
  if (state !== 'expired' && r.notBefore !== null && Math.ceil(r.notBefore) > now) {
    state = 'not-yet-valid';
    text += ` · not valid for another ${duration(r.notBefore - now)}`;
  }
  ui.countdown.dataset.state = state;
  ui.countdown.textContent = text;
  const label = {
    live: 'Decoded: within its time window',
    expired: 'Decoded: expired',
    'not-yet-valid': 'Decoded: not yet valid',
    'no-exp': 'Decoded: no expiry',
  }[state];
  setStatus(state, `${label} — not verified.`);
}

function renderWarnings(warnings) {
  ui.warnings.replaceChildren();
  for (const w of warnings) {
    const li = document.createElement('li');
    li.dataset.code = w.code;
    const code = document.createElement('code');
    code.textContent = w.code;
    li.append(code);
    if (w.path) {
      const path = document.createElement('span');
      path.className = 'path';
      path.textContent = ` ${w.path}`;
      li.append(path);
    }
    li.append(` — ${w.message}`);
    ui.warnings.append(li);
  }
  show(ui.noWarnings, warnings.length === 0);
}

function renderError(e) {
  current = null;
  show(ui.result, false);
  show(ui.error, true);
  const typed = e && e.name === 'DecodeError';
  ui.errorCode.textContent = typed ? e.code : 'unexpected_error';
  ui.errorPart.textContent = typed && e.part ? `in the ${e.part}` : '';
  ui.errorMessage.textContent = String(e && e.message ? e.message : e);
  setStatus('error', 'Not a readable JWT.');
}

function render() {
  const token = normalize(ui.token.value);
  if (token === '') {
    current = null;
    show(ui.result, false);
    show(ui.error, false);
    setStatus('empty', 'Paste a token to decode it.');
    return;
  }
  let r;
  try {
    r = decode(token, { flagEmails: ui.flagEmails.checked });
  } catch (e) {
    renderError(e);
    return;
  }
  current = r;
  show(ui.error, false);
  show(ui.result, true);
  ui.header.textContent = JSON.stringify(r.header, null, 2);
  ui.claims.textContent = JSON.stringify(r.claims, null, 2);
  ui.lifetime.textContent = r.lifetime === null ? 'unknown (needs iat and exp)' : duration(r.lifetime);
  ui.facts.textContent = `${r.tokenBytes} bytes; signature ${r.signatureBytes} bytes, not checked; verified: ${r.verified}`;
  renderWarnings(r.warnings);
  tick();
}

function b64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

const json64 = (value) => b64url(new TextEncoder().encode(JSON.stringify(value)));

/** A made-up token valid for ten minutes, with random bytes for a signature. */
function exampleToken() {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'HS256', typ: 'JWT' };
  const claims = { sub: 'alice', name: 'Alice Example', iat: now, exp: now + 600 };
  const signature = crypto.getRandomValues(new Uint8Array(32));
  return `${json64(header)}.${json64(claims)}.${b64url(signature)}`;
}

try {
  await init(); // fetches ./pkg/edgegate_bg.wasm from this page's origin
} catch (e) {
  setStatus('error', `The decoder module failed to load: ${e && e.message ? e.message : e}`);
  throw e;
}

ui.token.addEventListener('input', render);
ui.flagEmails.addEventListener('change', render);
ui.example.addEventListener('click', () => {
  ui.token.value = exampleToken();
  render();
});
ui.clear.addEventListener('click', () => {
  ui.token.value = '';
  render();
  ui.token.focus();
});
setInterval(tick, 250);
render();
document.documentElement.dataset.ready = 'true';
