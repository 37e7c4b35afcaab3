//! The demo's HTML: the login form and the app page. No external assets; inline style and script
//! run under a per-response CSP nonce.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore as _;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Serialises `s` as a JSON string that is safe inside an inline `<script>`.
fn js_string(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
}

/// A fresh CSP nonce (128 bits, base64).
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// The `Content-Security-Policy` for a page rendered with `nonce`.
pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;\
padding:0 1rem;color:#1d1d1f}code,pre{background:#f3f3f5;border-radius:4px;padding:.1rem .3rem}\
pre{padding:.7rem;overflow:auto}button{font:inherit;padding:.35rem .9rem;margin:.2rem .4rem .2rem 0}\
form.inline{display:inline}label{display:block;margin:.6rem 0}input[type=text],input[type=password]\
{font:inherit;padding:.3rem;width:16rem;display:block}.muted{color:#666}.bad{color:#b00020}\
.ok{color:#116d2c}";

fn page(nonce: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style nonce=\"{nonce}\">{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        title = escape(title),
    )
}

/// What the login page says above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNotice {
    /// Nothing.
    None,
    /// The credentials were wrong.
    BadCredentials,
    /// Signed out on this device.
    LoggedOut,
    /// Signed out everywhere.
    LoggedOutEverywhere,
    /// The password was changed: every session has ended.
    PasswordChanged,
    /// Too many failed attempts: the form is refused for `retry_after` seconds.
    TooManyAttempts {
        /// Seconds until the next attempt is accepted.
        retry_after: u64,
    },
}

/// The login form, posting `username`, `password` and `return_to` to `login_path`.
pub fn login(nonce: &str, login_path: &str, return_to: &str, notice: LoginNotice) -> String {
    let notice = match notice {
        LoginNotice::None => String::new(),
        LoginNotice::BadCredentials => {
            "<p class=\"bad\" role=\"alert\">Wrong user name or password.</p>".into()
        }
        LoginNotice::LoggedOut => "<p class=\"ok\">You are signed out on this device.</p>".into(),
        LoginNotice::LoggedOutEverywhere => {
            "<p class=\"ok\">You are signed out on every device.</p>".into()
        }
        LoginNotice::PasswordChanged => {
            "<p class=\"ok\">Password changed: you are signed out on every device. Sign in with \
             the new one.</p>"
                .into()
        }
        LoginNotice::TooManyAttempts { retry_after } => format!(
            "<p class=\"bad\" role=\"alert\">Too many failed sign-in attempts. Try again in \
             {retry_after} s.</p>"
        ),
    };
    let body = format!(
        "<h1>Sign in</h1>\n{notice}\n<form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"return_to\" value=\"{rt}\">\n\
         <label>User name <input type=\"text\" name=\"username\" autocomplete=\"username\" required autofocus></label>\n\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n\
         <p class=\"muted\">edgegate reference origin. After signing in you go back to <code>{rt}</code>.</p>",
        action = escape(login_path),
        rt = escape(return_to),
    );
    page(nonce, "Sign in", &body)
}

/// Paths and timing the app page's script needs.
#[derive(Debug, Clone)]
pub struct AppPage<'a> {
    /// The user the gate forwarded (`x-auth-sub`), if any.
    pub sub: Option<&'a str>,
    /// Refresh endpoint.
    pub refresh_path: &'a str,
    /// Login endpoint.
    pub login_path: &'a str,
    /// Seconds before expiry at which the page refreshes proactively.
    pub refresh_margin: i64,
    /// Why the last password change was refused (`?password=` on the redirect back), if it was.
    pub password_refused: Option<&'a str>,
}

/// The demo app page: who is signed in, a countdown to access-token expiry, proactive refresh,
/// and the two logout buttons.
pub fn app(nonce: &str, p: &AppPage<'_>) -> String {
    let who = match p.sub {
        Some(sub) => format!("<strong id=\"sub\">{}</strong>", escape(sub)),
        None => "<strong id=\"sub\">nobody</strong> (open this page through the gate)".into(),
    };
    let script = format!(
        r#"(() => {{
  const REFRESH = {refresh}, LOGIN = {login}, MARGIN = {margin};
  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() / 1000;
  let exp = null, timer = null;
  const say = (text, cls) => {{ $('state').textContent = text; $('state').className = cls || 'muted'; }};
  async function refresh() {{
    const r = await fetch(REFRESH, {{ method: 'POST', credentials: 'same-origin' }});
    if (r.status === 204) {{ say('refreshed at ' + new Date().toLocaleTimeString(), 'ok'); return true; }}
    say('refresh failed (' + r.status + '): the session has ended', 'bad');
    return false;
  }}
  async function load() {{
    const r = await fetch('/api/me', {{ credentials: 'same-origin', headers: {{ accept: 'application/json' }} }});
    if (r.status === 401) {{
      const body = await r.json().catch(() => ({{}}));
      if (body.error === 'token_expired' && await refresh()) return load();
      location.assign(LOGIN + '?return_to=' + encodeURIComponent(location.pathname + location.search));
      return;
    }}
    if (!r.ok) {{ say('GET /api/me: ' + r.status, 'bad'); return; }}
    const me = await r.json();
    $('sub').textContent = me.sub;
    $('claims').textContent = JSON.stringify(me.claims, null, 2);
    exp = now() + me.expires_in;
    schedule();
  }}
  function schedule() {{
    clearTimeout(timer);
    if (!$('auto').checked || exp === null) return;
    timer = setTimeout(async () => {{ if (await refresh()) load(); }}, Math.max(0, exp - MARGIN - now()) * 1000);
  }}
  setInterval(() => {{
    if (exp === null) return;
    const s = Math.round(exp - now());
    $('exp').textContent = s >= 0 ? s + ' s' : 'expired ' + -s + ' s ago';
  }}, 500);
  $('auto').addEventListener('change', schedule);
  $('refresh').addEventListener('click', async () => {{ if (await refresh()) load(); }});
  $('reload').addEventListener('click', () => location.reload());
  for (const form of document.querySelectorAll('form.logout')) {{
    form.addEventListener('submit', async (e) => {{
      // With an expired access token the gate would answer 401: refresh first.
      if (exp !== null && exp - now() < MARGIN) {{ e.preventDefault(); await refresh(); form.submit(); }}
    }});
  }}
  load();
}})();"#,
        refresh = js_string(p.refresh_path),
        login = js_string(p.login_path),
        margin = p.refresh_margin,
    );
    let body = format!(
        "<h1>edgegate demo</h1>\n\
         <p>Signed in as {who}. <span class=\"muted\">The gate verified your access token at the \
         edge and forwarded your identity in <code>x-auth-sub</code> / <code>x-auth-claims</code>.</span></p>\n\
         <p>Access token expires in <strong id=\"exp\">…</strong> <span id=\"state\" class=\"muted\"></span></p>\n\
         <label><input type=\"checkbox\" id=\"auto\" checked> refresh automatically {margin} s before expiry</label>\n\
         <p><button type=\"button\" id=\"refresh\">Refresh now</button>\
         <button type=\"button\" id=\"reload\">Reload page</button></p>\n\
         <form method=\"post\" action=\"/auth/logout\" class=\"logout inline\"><button type=\"submit\">Log out</button></form>\
         <form method=\"post\" action=\"/auth/logout-all\" class=\"logout inline\"><button type=\"submit\">Log out everywhere</button></form>\n\
         <h2>Change password</h2>\n{refused}\
         <form method=\"post\" action=\"{password_path}\" class=\"logout\" id=\"password\">\
         <label>Current password <input type=\"password\" name=\"current_password\" autocomplete=\"current-password\" required></label> \
         <label>New password <input type=\"password\" name=\"new_password\" autocomplete=\"new-password\" minlength=\"{min}\" required></label> \
         <button type=\"submit\">Change password</button></form>\n\
         <p class=\"muted\">Changing it signs you out on every device: the gate refuses their \
         access tokens within seconds, without waiting for them to expire.</p>\n\
         <h2>Claims the gate forwarded</h2>\n<pre id=\"claims\">…</pre>\n\
         <p class=\"muted\">Try it: untick automatic refresh, wait until the token has expired, then \
         reload. The gate answers the expired navigation with a redirect to <code>{refresh}</code>, \
         which rotates your refresh token and sends you back here.</p>\n\
         <script nonce=\"{nonce}\">{script}</script>",
        margin = p.refresh_margin,
        refresh = escape(p.refresh_path),
        refused = match p.password_refused {
            Some("invalid_credentials") => "<p class=\"bad\" role=\"alert\">Password not changed: \
                 the current password is wrong.</p>\n",
            Some(_) => "<p class=\"bad\" role=\"alert\">Password not changed: the new one must be \
                 8 to 1024 bytes and differ from the current one.</p>\n",
            None => "",
        },
        password_path = escape(super::PASSWORD_PATH),
        min = super::MIN_PASSWORD_BYTES,
    );
    page(nonce, "edgegate demo", &body)
}

/// The 404 page for navigations (the demo app has only `/`).
pub fn not_found(nonce: &str) -> String {
    page(
        nonce,
        "Not found",
        "<h1>Not found</h1>\n<p>The demo app has one page: <a href=\"/\">go there</a>.</p>",
    )
}

/// A page that re-requests `target` from our own origin: a cross-site navigation does not carry
/// the `SameSite=Strict` refresh cookie, a same-origin one does.
pub fn bounce(nonce: &str, target: &str) -> String {
    let body = format!(
        "<meta http-equiv=\"refresh\" content=\"0;url={t}\">\n<p>Continuing to <a href=\"{t}\">{t}</a>…</p>",
        t = escape(target)
    );
    page(nonce, "Continuing…", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(js_string("</script>"), r#""\u003c/script\u003e""#);
    }

    #[test]
    fn login_page_escapes_return_to() {
        let html = login(
            "n",
            "/auth/login",
            "/\"><script>x</script>",
            LoginNotice::None,
        );
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains(r#"action="/auth/login""#));
    }

    #[test]
    fn app_page_has_nonce_and_escapes_sub() {
        let html = app(
            "NONCE",
            &AppPage {
                sub: Some("<b>eve</b>"),
                refresh_path: "/auth/refresh",
                login_path: "/auth/login",
                refresh_margin: 15,
                password_refused: Some("weak_password"),
            },
        );
        assert!(html.contains(r#"<script nonce="NONCE">"#));
        assert!(html.contains("action=\"/auth/password\"") && html.contains("new one must be"));
        assert!(html.contains("&lt;b&gt;eve"));
        assert!(html.contains("action=\"/auth/logout-all\""));
        assert!(csp("NONCE").contains("script-src 'nonce-NONCE'"));
        assert_ne!(nonce(), nonce());
    }
}
