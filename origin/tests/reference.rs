//! The reference origin in-process (real server on 127.0.0.1:0, raw HTTP/1.1): login, rotation,
//! reuse detection, grace window, logout, CSRF, return_to, JWKS, persistence across restarts.
//! The gate is simulated by sending the `x-auth-*` headers it would forward.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{request, HttpResponse};
use edgegate_origin::reference::config::{Config, ReferenceArgs};
use edgegate_origin::reference::{self, Reference};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

const SECRET: &str = "reference-test-secret-0123456789abcdef";
const GATE: &str = "http://gate.test";

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ego-ref-{}", reference::store::new_family_id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn config(dir: &Path, extra: &[(&'static str, &str)]) -> Config {
    let mut values = vec![
        ("--jwt-secret", SECRET.to_owned()),
        ("--user", "alice:wonderland".to_owned()),
        ("--user", "bob:builder".to_owned()),
        ("--public-origin", GATE.to_owned()),
        ("--data-dir", dir.display().to_string()),
        ("--access-ttl", "60".to_owned()),
    ];
    values.extend(extra.iter().map(|(f, v)| (*f, (*v).to_owned())));
    let args = ReferenceArgs {
        reference: true,
        values,
        ..ReferenceArgs::default()
    };
    Config::resolve(&args, |_| None, |p| std::fs::read_to_string(p)).expect("config")
}

struct Origin {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(dir: &Path, extra: &[(&'static str, &str)]) -> Origin {
    start_with_clock(dir, extra, None).await
}

/// Like [`start`], with the login throttle reading `clock` (Unix ms) instead of the real time.
async fn start_with_clock(
    dir: &Path,
    extra: &[(&'static str, &str)],
    clock: Option<Arc<AtomicI64>>,
) -> Origin {
    let cfg = config(dir, extra);
    let mut r = tokio::task::spawn_blocking(move || Reference::open(cfg))
        .await
        .expect("join")
        .expect("open");
    if let Some(clock) = clock {
        r.set_throttle_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    r.allow_own_address(addr);
    let app = reference::router(Arc::new(r), None);
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    Origin { addr, task }
}

/// `name=value` of every `Set-Cookie` (attributes dropped).
fn set_cookies(r: &HttpResponse) -> Vec<(String, String)> {
    r.header_all("set-cookie")
        .into_iter()
        .filter_map(|c| c.split(';').next())
        .filter_map(|nv| nv.split_once('='))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn cookie(r: &HttpResponse, name: &str) -> String {
    set_cookies(r)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.headers))
}

fn claims(jwt: &str) -> Map<String, Value> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp", "sub", "iat"]);
    decode::<Map<String, Value>>(jwt, &DecodingKey::from_secret(SECRET.as_bytes()), &v)
        .expect("access token verifies with the shared secret")
        .claims
}

async fn login(addr: SocketAddr, user: &str, password: &str, return_to: &str) -> HttpResponse {
    login_with(addr, user, password, return_to, &[]).await
}

/// [`login`] with `extra` request headers.
async fn login_with(
    addr: SocketAddr,
    user: &str,
    password: &str,
    return_to: &str,
    extra: &[(&str, &str)],
) -> HttpResponse {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", user)
        .append_pair("password", password)
        .append_pair("return_to", return_to)
        .finish();
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", GATE),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    headers.extend_from_slice(extra);
    request(addr, "POST", "/auth/login", &headers, body.as_bytes()).await
}

/// A login as the gate forwards it from the client at `ip` (`CF-Connecting-IP`).
async fn login_from(addr: SocketAddr, ip: &str, user: &str, password: &str) -> HttpResponse {
    login_with(addr, user, password, "/", &[("CF-Connecting-IP", ip)]).await
}

/// Logs alice in; returns (access, refresh).
async fn session(addr: SocketAddr) -> (String, String) {
    let r = login(addr, "alice", "wonderland", "/").await;
    assert_eq!(r.status, 303, "{:?}", String::from_utf8_lossy(&r.body));
    (cookie(&r, "access"), cookie(&r, "refresh"))
}

async fn refresh_api(addr: SocketAddr, refresh: &str) -> HttpResponse {
    let c = format!("refresh={refresh}");
    request(
        addr,
        "POST",
        "/auth/refresh",
        &[("Cookie", &c), ("Origin", GATE)],
        b"",
    )
    .await
}

/// What the gate forwards for a verified access token.
fn gate_headers(access: &str) -> Vec<(String, String)> {
    let payload = access.split('.').nth(1).expect("payload").to_owned();
    let sub = claims(access)["sub"].as_str().expect("sub").to_owned();
    vec![
        ("x-auth-sub".into(), sub),
        ("x-auth-claims".into(), payload),
        ("Origin".into(), GATE.into()),
    ]
}

async fn post_as(
    addr: SocketAddr,
    path: &str,
    access: &str,
    extra: &[(&str, &str)],
) -> HttpResponse {
    let owned = gate_headers(access);
    let mut headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.extend_from_slice(extra);
    request(addr, "POST", path, &headers, b"").await
}

#[tokio::test]
async fn login_sets_hardened_cookies_and_a_verifiable_access_token() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let r = login(o.addr, "alice", "wonderland", "/app?tab=2").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/app?tab=2"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let raw = r.header_all("set-cookie");
    assert_eq!(raw.len(), 2, "{raw:?}");
    let access_attrs = raw
        .iter()
        .find(|c| c.starts_with("access="))
        .expect("access");
    let refresh_attrs = raw
        .iter()
        .find(|c| c.starts_with("refresh="))
        .expect("refresh");
    for want in ["; Path=/;", "; HttpOnly", "; Secure", "; SameSite=Lax"] {
        assert!(access_attrs.contains(want), "{access_attrs} lacks {want}");
    }
    for want in [
        "; Path=/auth/refresh;",
        "; HttpOnly",
        "; Secure",
        "; SameSite=Strict",
    ] {
        assert!(refresh_attrs.contains(want), "{refresh_attrs} lacks {want}");
    }
    let access = cookie(&r, "access");
    let c = claims(&access);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["exp"].as_i64(), c["iat"].as_i64().map(|i| i + 60));
    assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()));
    // The refresh token: 256 bits, base64url.
    let refresh = cookie(&r, "refresh");
    assert_eq!(URL_SAFE_NO_PAD.decode(&refresh).expect("b64url").len(), 32);

    // Wrong password / unknown user: 401, no cookies; HTML for a navigation.
    for (u, p) in [("alice", "nope"), ("mallory", "wonderland"), ("", "")] {
        let r = login(o.addr, u, p, "/").await;
        assert_eq!(r.status, 401, "{u}");
        assert!(r.header_all("set-cookie").is_empty());
        assert_eq!(r.json()["error"], "invalid_credentials");
    }
    let r = request(
        o.addr,
        "POST",
        "/auth/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Mode", "navigate"),
        ],
        b"username=alice&password=x&return_to=%2Fapp",
    )
    .await;
    assert_eq!(r.status, 401);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("Wrong user name or password"));
    assert!(body.contains(r#"name="return_to" value="/app""#));
    // Not a form.
    let r = request(
        o.addr,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/json")],
        br#"{"username":"alice"}"#,
    )
    .await;
    assert_eq!(r.status, 415);
}

/// Status, `Retry-After` and body: everything a client could tell two answers apart by.
fn observable(r: &HttpResponse) -> (u16, Option<String>, Vec<u8>) {
    (
        r.status,
        r.header("retry-after").map(str::to_owned),
        r.body.clone(),
    )
}

#[tokio::test]
async fn login_is_throttled_per_account_and_per_client() {
    let dir = temp_dir();
    // A frozen clock: no lock ends while the test runs, however slow the machine.
    let t0 = 1_700_000_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let o = start_with_clock(&dir, &[], Some(Arc::clone(&clock))).await;
    let attacker = "203.0.113.1";

    // 50 wrong passwords in a row: five are checked (401), then the account is locked.
    let mut answers = Vec::new();
    for i in 0..50 {
        answers.push(login_from(o.addr, attacker, "alice", &format!("guess{i}")).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 45], "{statuses:?}");
    for r in &answers[5..] {
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json(), serde_json::json!({"error": "too_many_attempts"}));
        assert!(r.header_all("set-cookie").is_empty());
    }
    // While locked, the right password is refused too, from any client.
    for ip in [attacker, "192.0.2.44"] {
        let r = login_from(o.addr, ip, "alice", "wonderland").await;
        assert_eq!(r.status, 429, "{ip}");
        assert!(r.header_all("set-cookie").is_empty());
    }
    // A form navigation gets the login page with the same status and Retry-After.
    let r = login_with(
        o.addr,
        "alice",
        "wonderland",
        "/app",
        &[
            ("CF-Connecting-IP", attacker),
            ("Sec-Fetch-Mode", "navigate"),
        ],
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let page = String::from_utf8_lossy(&r.body);
    assert!(page.contains("Too many failed sign-in attempts. Try again in 1 s."));
    assert!(page.contains(r#"name="return_to" value="/app""#));
    // Another account from another client is unaffected.
    assert_eq!(
        login_from(o.addr, "198.51.100.2", "bob", "builder")
            .await
            .status,
        303
    );

    // An unknown name is throttled exactly like a real one.
    let mut unknown = Vec::new();
    for i in 0..6 {
        unknown.push(login_from(o.addr, "198.51.100.3", "mallory", &format!("guess{i}")).await);
    }
    for (i, r) in unknown.iter().enumerate() {
        assert_eq!(observable(r), observable(&answers[i]), "attempt {i}");
    }

    // Once the lock has passed, the right password signs in and the account starts over: the
    // next wrong password is checked (401), not refused.
    clock.store(t0 + 1_000, Ordering::SeqCst);
    assert_eq!(
        login_from(o.addr, attacker, "alice", "wonderland")
            .await
            .status,
        303
    );
    assert_eq!(
        login_from(o.addr, attacker, "alice", "nope").await.status,
        401
    );

    // One client spraying names: 20 failures, then even a right password from it is refused.
    let sprayer = "198.51.100.7";
    for n in 0..20 {
        let r = login_from(o.addr, sprayer, &format!("user{n}"), "x").await;
        assert_eq!(r.status, 401, "user{n}");
    }
    let r = login_from(o.addr, sprayer, "bob", "builder").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"], "too_many_attempts");
    assert_eq!(
        login_from(o.addr, "198.51.100.8", "bob", "builder")
            .await
            .status,
        303
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_address_cloudflare_gives_every_worker_subrequest_is_no_client() {
    let dir = temp_dir();
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000));
    let o = start_with_clock(&dir, &[], Some(clock)).await;
    // A gate calling an origin in another Cloudflare zone: every client arrives as this address.
    // Twenty failures on different names must not lock out the next user.
    let shared = edgegate_origin::reference::SHARED_WORKER_IP.to_string();
    for n in 0..25 {
        let r = login_from(o.addr, &shared, &format!("user{n}"), "x").await;
        assert_eq!(r.status, 401, "user{n}");
    }
    assert_eq!(
        login_from(o.addr, &shared, "bob", "builder").await.status,
        303
    );
    // The accounts are still throttled.
    for _ in 0..5 {
        assert_eq!(login_from(o.addr, &shared, "alice", "x").await.status, 401);
    }
    assert_eq!(login_from(o.addr, &shared, "alice", "x").await.status, 429);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn return_to_never_leaves_the_site() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "http:/evil.example",
    ] {
        let r = login(o.addr, "bob", "builder", evil).await;
        assert_eq!(r.header("location"), Some("/"), "login {evil:?}");
        let refresh = cookie(&r, "refresh");
        let target = format!(
            "/auth/refresh?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", evil)
                .finish()
        );
        let c = format!("refresh={refresh}");
        let r = request(o.addr, "GET", &target, &[("Cookie", &c)], b"").await;
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("/"), "refresh {evil:?}");
        // A failed refresh sends to login with a safe return_to too.
        let r = request(o.addr, "GET", &target, &[("Cookie", "refresh=bogus")], b"").await;
        assert_eq!(
            r.header("location"),
            Some("/auth/login"),
            "failed refresh {evil:?}"
        );
    }
    // The login page embeds only the sanitised value.
    let r = request(
        o.addr,
        "GET",
        "/auth/login?return_to=%2F%2Fevil.example",
        &[],
        b"",
    )
    .await;
    assert!(String::from_utf8_lossy(&r.body).contains(r#"name="return_to" value="/""#));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let dir = temp_dir();
    let o = start(&dir, &[("--refresh-grace", "1")]).await;
    let (_, r0) = session(o.addr).await;

    // API refresh: 204 and two new cookies.
    let res = refresh_api(o.addr, &r0).await;
    assert_eq!(res.status, 204);
    let r1 = cookie(&res, "refresh");
    assert_ne!(r1, r0);
    let a1 = cookie(&res, "access");
    // Navigation refresh: 302 back to return_to.
    let c = format!("refresh={r1}");
    let res = request(
        o.addr,
        "GET",
        "/auth/refresh?return_to=%2Fdocs%3Fpage%3D3",
        &[("Cookie", &c), ("Sec-Fetch-Mode", "navigate")],
        b"",
    )
    .await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location"), Some("/docs?page=3"));
    let r2 = cookie(&res, "refresh");
    assert_eq!(claims(&a1)["sid"], claims(&cookie(&res, "access"))["sid"]);

    // Within the 1 s grace window, r1 again yields the same successor r2 (two tabs).
    let res = refresh_api(o.addr, &r1).await;
    assert_eq!(res.status, 204);
    assert_eq!(cookie(&res, "refresh"), r2);

    // After the window, r0 is a replay: the whole family dies, r2 included.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let res = refresh_api(o.addr, &r0).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "invalid_refresh");
    assert!(
        set_cookies(&res).iter().all(|(_, v)| v.is_empty()),
        "cookies are cleared"
    );
    let res = refresh_api(o.addr, &r2).await;
    assert_eq!(res.status, 401);

    // Missing, malformed and duplicated refresh cookies.
    for c in [
        "",
        "refresh=short",
        "other=1",
        &format!("refresh={r2}; refresh={r2}"),
    ] {
        let res = request(
            o.addr,
            "POST",
            "/auth/refresh",
            &[("Cookie", c), ("Origin", GATE)],
            b"",
        )
        .await;
        assert_eq!(res.status, 401, "{c}");
    }
    // A navigation that fails goes to login, keeping return_to.
    let res = request(
        o.addr,
        "GET",
        "/auth/refresh?return_to=%2Fapp",
        &[("Cookie", &format!("refresh={r2}"))],
        b"",
    )
    .await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location"), Some("/auth/login?return_to=%2Fapp"));
}

#[tokio::test]
async fn logout_and_logout_all() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let (laptop_a, laptop_r) = session(o.addr).await;
    let (_, phone_r) = session(o.addr).await;
    let (tablet_a, tablet_r) = session(o.addr).await;
    let bob = login(o.addr, "bob", "builder", "/").await;
    let bob_r = cookie(&bob, "refresh");

    // Logout on the laptop: only its family.
    let res = post_as(o.addr, "/auth/logout", &laptop_a, &[]).await;
    assert_eq!(res.status, 204);
    assert!(set_cookies(&res).iter().all(|(_, v)| v.is_empty()));
    assert_eq!(refresh_api(o.addr, &laptop_r).await.status, 401);
    let res = refresh_api(o.addr, &phone_r).await;
    assert_eq!(res.status, 204);
    let phone_r = cookie(&res, "refresh");

    // Logout everywhere from the tablet: phone and tablet die, bob does not.
    let res = post_as(o.addr, "/auth/logout-all", &tablet_a, &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["revoked"], 2);
    assert_eq!(refresh_api(o.addr, &phone_r).await.status, 401);
    assert_eq!(refresh_api(o.addr, &tablet_r).await.status, 401);
    assert_eq!(refresh_api(o.addr, &bob_r).await.status, 204);

    // A form submission gets a redirect to the login page.
    let (a, _) = session(o.addr).await;
    let res = post_as(
        o.addr,
        "/auth/logout-all",
        &a,
        &[("Sec-Fetch-Mode", "navigate")],
    )
    .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/auth/login?logged_out=all"));
    // Without the gate's identity, logout-all has nobody to log out.
    let res = request(o.addr, "POST", "/auth/logout-all", &[], b"").await;
    assert_eq!(res.status, 401);
    // State-changing endpoints are POST only.
    for p in ["/auth/logout", "/auth/logout-all"] {
        assert_eq!(request(o.addr, "GET", p, &[], b"").await.status, 405, "{p}");
    }
}

#[tokio::test]
async fn csrf_origin_and_fetch_metadata_checks() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let (a, r) = session(o.addr).await;
    let c = format!("refresh={r}");
    let own = format!("http://{}", o.addr);
    for (name, value) in [
        ("Origin", "https://evil.example"),
        ("Origin", "null"),
        ("Origin", "http://gate.test.evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let res = request(
            o.addr,
            "POST",
            "/auth/refresh",
            &[("Cookie", &c), (name, value)],
            b"",
        )
        .await;
        assert_eq!(res.status, 403, "{name}: {value}");
        assert_eq!(res.json()["error"], "cross_site_request");
        let res = request(
            o.addr,
            "POST",
            "/auth/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                (name, value),
            ],
            b"username=alice&password=wonderland",
        )
        .await;
        assert_eq!(res.status, 403, "login {name}: {value}");
        let res = post_as(o.addr, "/auth/logout-all", &a, &[(name, value)]).await;
        // post_as sends the gate's Origin first; a second, foreign one must not win.
        assert_eq!(res.status, 403, "logout-all {name}: {value}");
    }
    // GET refresh is not CSRF-checked (it is the gate's redirect target), but a cross-site
    // navigation arrives without the SameSite=Strict cookie: one same-origin bounce, no loop.
    let res = request(
        o.addr,
        "GET",
        "/auth/refresh?return_to=%2Fdocs",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "navigate"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    let html = String::from_utf8_lossy(&res.body);
    assert!(
        html.contains(r#"content="0;url=/auth/refresh?return_to=%2Fdocs&amp;bounced=1""#),
        "{html}"
    );
    let res = request(
        o.addr,
        "GET",
        "/auth/refresh?return_to=%2Fdocs",
        &[("Cookie", &c), ("Sec-Fetch-Site", "cross-site")],
        b"",
    )
    .await;
    assert_eq!(
        res.status, 302,
        "with the cookie, a cross-site GET simply rotates"
    );
    assert_eq!(res.header("location"), Some("/docs"));
    let c = format!("refresh={}", cookie(&res, "refresh"));

    // The origin's own URL is accepted too; no Origin at all is a non-browser client.
    let res = request(
        o.addr,
        "POST",
        "/auth/refresh",
        &[
            ("Cookie", &c),
            ("Origin", &own),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 204);
}

/// Whether `r` clears both session cookies (`Max-Age=0`, empty values).
fn clears_both_cookies(r: &HttpResponse) -> bool {
    let raw = r.header_all("set-cookie");
    ["access=;", "refresh=;"].iter().all(|prefix| {
        raw.iter()
            .any(|c| c.starts_with(prefix) && c.contains("; Max-Age=0;"))
    })
}

#[tokio::test]
async fn no_request_from_another_site_clears_the_session_cookies() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let (access, refresh) = session(o.addr).await;
    // A link on another site: the browser sends the Lax access cookie, never the Strict refresh
    // cookie. The bounce page's marker is in the link; it must not make this a failed refresh.
    let access_only = format!("access={access}");
    let forged = "/auth/refresh?return_to=%2Fdocs&bounced=1";
    for site in [Some("cross-site"), Some("same-site"), None] {
        let mut headers = vec![
            ("Cookie", access_only.as_str()),
            ("Sec-Fetch-Mode", "navigate"),
        ];
        if let Some(v) = site {
            headers.push(("Sec-Fetch-Site", v));
        }
        let res = request(o.addr, "GET", forged, &headers, b"").await;
        assert!(
            res.header_all("set-cookie").is_empty(),
            "{site:?}: {:?}",
            res.headers
        );
        if site.is_some() {
            // Treated as a fresh arrival from another site: the bounce page again.
            assert_eq!(res.status, 200, "{site:?}");
            assert!(String::from_utf8_lossy(&res.body)
                .contains(r#"content="0;url=/auth/refresh?return_to=%2Fdocs&amp;bounced=1""#));
        } else {
            assert_eq!(res.status, 302);
            assert_eq!(
                res.header("location"),
                Some("/auth/login?return_to=%2Fdocs")
            );
        }
    }
    // Missing refresh cookie even from our own page: 401, nothing to clear.
    let res = request(
        o.addr,
        "POST",
        "/auth/refresh",
        &[
            ("Cookie", &access_only),
            ("Origin", GATE),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 401);
    assert!(res.header_all("set-cookie").is_empty(), "{:?}", res.headers);
    // A refresh cookie that fails, on a request not shown to be same-origin: nothing cleared.
    for site in [&[("Sec-Fetch-Site", "cross-site")][..], &[]] {
        let mut headers = vec![("Cookie", "refresh=bogus")];
        headers.extend_from_slice(site);
        let res = request(o.addr, "GET", "/auth/refresh", &headers, b"").await;
        assert_eq!(res.status, 302, "{site:?}");
        assert!(res.header_all("set-cookie").is_empty(), "{site:?}");
    }
    // The same failure from our own pages clears both cookies (GET with Fetch Metadata, and a
    // POST from a browser that only sends Origin).
    let res = request(
        o.addr,
        "GET",
        "/auth/refresh",
        &[
            ("Cookie", "refresh=bogus"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 302);
    assert!(clears_both_cookies(&res), "{:?}", res.headers);
    let res = request(
        o.addr,
        "POST",
        "/auth/refresh",
        &[("Cookie", "refresh=bogus"), ("Origin", GATE)],
        b"",
    )
    .await;
    assert_eq!(res.status, 401);
    assert!(clears_both_cookies(&res), "{:?}", res.headers);

    // The session survived: the bounce page's own (same-origin) navigation rotates it.
    let c = format!("{access_only}; refresh={refresh}");
    let res = request(
        o.addr,
        "GET",
        forged,
        &[
            ("Cookie", &c),
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-Mode", "navigate"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 302);
    assert_eq!(res.header("location"), Some("/docs"));
    assert_ne!(cookie(&res, "refresh"), refresh);
}

#[tokio::test]
async fn app_routes_show_the_forwarded_identity() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let (a, _) = session(o.addr).await;
    let owned = gate_headers(&a);
    let headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let res = request(o.addr, "GET", "/api/me", &headers, b"").await;
    assert_eq!(res.status, 200);
    let me = res.json();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["claims"]["sid"], claims(&a)["sid"]);
    let expires_in = me["expires_in"].as_i64().expect("expires_in");
    assert!((55..=60).contains(&expires_in), "{expires_in}");
    let res = request(o.addr, "GET", "/api/me", &[], b"").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "unauthenticated");

    let res = request(o.addr, "GET", "/", &headers, b"").await;
    assert_eq!(res.status, 200);
    let csp = res
        .header("content-security-policy")
        .expect("csp")
        .to_owned();
    let html = String::from_utf8_lossy(&res.body);
    assert!(html.contains(r#"<strong id="sub">alice</strong>"#));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce");
    assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
    assert!(html.contains("fetch(REFRESH, { method: 'POST', credentials: 'same-origin' })"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );

    assert_eq!(
        request(o.addr, "GET", "/health", &[], b"").await.status,
        200
    );
    // Without --test-routes there is no echo: unknown paths are 404.
    assert_eq!(
        request(o.addr, "GET", "/api/data", &[], b"").await.status,
        404
    );
    let res = request(o.addr, "GET", "/dashboard", &[("Accept", "text/html")], b"").await;
    assert_eq!(res.status, 404);
    assert!(String::from_utf8_lossy(&res.body).contains(r#"<a href="/">"#));
}

#[tokio::test]
async fn sessions_and_keys_survive_a_restart() {
    let dir = temp_dir();
    let (r0, jwks_before) = {
        let o = start(&dir, &[]).await;
        let (_, r0) = session(o.addr).await;
        let jwks = request(o.addr, "GET", "/.well-known/jwks.json", &[], b"").await;
        (r0, jwks.json())
    };
    // A new process over the same data directory (the old task is aborted on drop).
    let o = start(&dir, &[]).await;
    let res = refresh_api(o.addr, &r0).await;
    assert_eq!(
        res.status, 204,
        "the refresh token from before the restart still rotates"
    );
    let jwks_after = request(o.addr, "GET", "/.well-known/jwks.json", &[], b"").await;
    assert_eq!(jwks_after.json(), jwks_before, "signing keys are kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn asymmetric_access_tokens_verify_against_the_served_jwks() {
    for (alg, jwt_alg) in [("ES256", Algorithm::ES256), ("EdDSA", Algorithm::EdDSA)] {
        let dir = temp_dir();
        let o = start(&dir, &[("--alg", alg)]).await;
        let r = login(o.addr, "alice", "wonderland", "/").await;
        let access = cookie(&r, "access");
        let header = decode_header(&access).expect("header");
        assert_eq!(header.alg, jwt_alg);
        let kid = header.kid.expect("kid");

        let res = request(o.addr, "GET", "/.well-known/jwks.json", &[], b"").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("application/jwk-set+json"));
        let set: JwkSet = serde_json::from_slice(&res.body).expect("a JWK Set");
        assert!(
            !String::from_utf8_lossy(&res.body).contains("\"d\""),
            "no private parts"
        );
        let jwk = set.find(&kid).expect("the token's kid is served");
        let mut v = Validation::new(jwt_alg);
        v.set_required_spec_claims(&["exp", "sub"]);
        let data =
            decode::<Map<String, Value>>(&access, &DecodingKey::from_jwk(jwk).expect("key"), &v)
                .expect("verifies against the JWKS");
        assert_eq!(data.claims["sub"], "alice");
        // The HMAC secret does not verify it.
        assert!(decode::<Map<String, Value>>(
            &access,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &Validation::new(Algorithm::HS256)
        )
        .is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn with_an_assertion_secret_identity_needs_the_gates_assertion() {
    const ASSERTION_SECRET: &str = "assertion-secret-0123456789abcdef0123456789";
    let dir = temp_dir();
    let o = start(&dir, &[("--assertion-secret", ASSERTION_SECRET)]).await;
    let (access, _) = session(o.addr).await;
    let minter = edgegate::low_level::assertion::Minter::new(
        ASSERTION_SECRET.as_bytes(),
        &format!("http://{}", o.addr),
        30,
    )
    .expect("minter");
    let now = edgegate_origin::reference::now_ms() / 1000;
    let mut nonce = 0u8;
    let mut assertion = |sub: &str, method: &str, path: &str| {
        nonce += 1;
        minter.mint(Some(sub), method, path, now, [nonce; 16])
    };
    let owned = gate_headers(&access);
    let me = |a: Option<String>| {
        let mut h: Vec<(String, String)> = owned.clone();
        if let Some(a) = a {
            h.push(("x-auth-assertion".into(), a));
        }
        async move {
            let hs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            request(o.addr, "GET", "/api/me", &hs, b"").await.status
        }
    };
    // Identity headers alone (a request that bypassed the gate) are not enough.
    assert_eq!(me(None).await, 401);
    let good = assertion("alice", "GET", "/api/me");
    assert_eq!(me(Some(good.clone())).await, 200);
    assert_eq!(me(Some(good)).await, 401, "a replayed assertion");
    assert_eq!(me(Some(assertion("alice", "GET", "/api/other"))).await, 401);
    assert_eq!(me(Some(assertion("alice", "POST", "/api/me"))).await, 401);
    assert_eq!(me(Some(assertion("bob", "GET", "/api/me"))).await, 401);
    let wrong_key =
        edgegate::low_level::assertion::Minter::new(&[9u8; 32], &format!("http://{}", o.addr), 30)
            .expect("minter")
            .mint(Some("alice"), "GET", "/api/me", now, [99; 16]);
    assert_eq!(me(Some(wrong_key)).await, 401);

    // logout-all with the gate's assertion works; without it there is nobody to log out.
    assert_eq!(
        post_as(o.addr, "/auth/logout-all", &access, &[])
            .await
            .status,
        401
    );
    let a = assertion("alice", "POST", "/auth/logout-all");
    let res = post_as(
        o.addr,
        "/auth/logout-all",
        &access,
        &[("x-auth-assertion", &a)],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["revoked"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn with_an_assertion_secret_cf_connecting_ip_counts_only_from_the_gate() {
    const ASSERTION_SECRET: &str = "assertion-secret-0123456789abcdef0123456789";
    let dir = temp_dir();
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000));
    let o = start_with_clock(
        &dir,
        &[("--assertion-secret", ASSERTION_SECRET)],
        Some(clock),
    )
    .await;
    // Around the gate, a fresh CF-Connecting-IP per attempt does not make a fresh client: all
    // twenty failures count against the TCP peer, which is then locked.
    for n in 0..20 {
        let ip = format!("10.0.0.{n}");
        let r = login_from(o.addr, &ip, &format!("user{n}"), "x").await;
        assert_eq!(r.status, 401, "user{n}");
    }
    let r = login_from(o.addr, "10.0.1.1", "bob", "builder").await;
    assert_eq!(r.status, 429);
    // Through the gate (its assertion for this request), the header names the client.
    let minter = edgegate::low_level::assertion::Minter::new(
        ASSERTION_SECRET.as_bytes(),
        &format!("http://{}", o.addr),
        30,
    )
    .expect("minter");
    let now = edgegate_origin::reference::now_ms() / 1000;
    let assertion = minter.mint(None, "POST", "/auth/login", now, [7; 16]);
    let r = login_with(
        o.addr,
        "bob",
        "builder",
        "/",
        &[
            ("CF-Connecting-IP", "10.0.1.1"),
            ("x-auth-assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(r.status, 303);
    // Through the gate without the header (a client can have the gate drop it by listing it in
    // `Connection`), the peer is the gate itself, shared by every visitor: it is not the
    // client, so only the account counts and the locked peer does not lock bob out.
    let assertion = minter.mint(None, "POST", "/auth/login", now, [8; 16]);
    let r = login_with(
        o.addr,
        "bob",
        "builder",
        "/",
        &[("x-auth-assertion", &assertion)],
    )
    .await;
    assert_eq!(r.status, 303);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The origin's revocation document as the gate reads it (HS256, the shared secret): its
/// response headers are checked, then the list the gate would hold.
async fn revocation_list(addr: SocketAddr) -> edgegate::low_level::revocation::RevocationList {
    use edgegate::gate::{DocumentStep, Gate};
    let res = request(addr, "GET", "/.well-known/edgegate-revocations", &[], b"").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/jwt"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let url = format!("http://{addr}/.well-known/edgegate-revocations");
    let vars = [
        ("ORIGIN_URL", format!("http://{addr}")),
        ("ALGORITHMS", "HS256".to_owned()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("REVOCATION_URL", url),
    ];
    let cfg = edgegate::Config::from_lookup(&|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .expect("gate config");
    let now_ms = reference::now_ms() as f64;
    let body = String::from_utf8(res.body).expect("text");
    match Gate::new(cfg).revocation_document(&body, now_ms, None, &edgegate::RustCrypto) {
        DocumentStep::Verified(list) => list,
        other => panic!("the gate refused the origin's document: {other:?}"),
    }
}

/// Whether `list` revokes the access token `jwt`.
fn revokes(list: &edgegate::low_level::revocation::RevocationList, jwt: &str) -> bool {
    let c = claims(jwt);
    list.revokes(
        c["sub"].as_str().expect("sub"),
        c.get("sid").and_then(Value::as_str),
        c.get("iat").and_then(Value::as_i64),
    )
}

#[tokio::test]
async fn the_revocation_list_follows_logout_logout_all_and_reuse_and_survives_a_restart() {
    let dir = temp_dir();
    let (seq_before, a_new) = {
        let o = start(&dir, &[("--refresh-grace", "0")]).await;
        let empty = revocation_list(o.addr).await;
        assert_eq!((empty.seq, empty.len()), (0, 0));
        let (laptop, _) = session(o.addr).await;
        let (phone, _) = session(o.addr).await;
        let bob = login(o.addr, "bob", "builder", "/").await;
        let (bob_a, bob_r) = (cookie(&bob, "access"), cookie(&bob, "refresh"));

        // Logout on the laptop: its token is revoked, the phone's is not.
        assert_eq!(
            post_as(o.addr, "/auth/logout", &laptop, &[]).await.status,
            204
        );
        let l1 = revocation_list(o.addr).await;
        assert!(revokes(&l1, &laptop) && !revokes(&l1, &phone) && !revokes(&l1, &bob_a));
        assert!(l1.seq > 0);

        // Logout everywhere: the phone's token too; bob untouched; a login right after is valid.
        assert_eq!(
            post_as(o.addr, "/auth/logout-all", &phone, &[])
                .await
                .status,
            200
        );
        let (a_new, _) = session(o.addr).await;
        let l2 = revocation_list(o.addr).await;
        assert!(revokes(&l2, &laptop) && revokes(&l2, &phone));
        assert!(!revokes(&l2, &bob_a) && !revokes(&l2, &a_new));
        assert!(l2.seq > l1.seq);

        // Refresh-token reuse (no grace): bob's family, and the access token it had.
        assert_eq!(refresh_api(o.addr, &bob_r).await.status, 204);
        assert_eq!(refresh_api(o.addr, &bob_r).await.status, 401);
        let l3 = revocation_list(o.addr).await;
        assert!(revokes(&l3, &bob_a) && !revokes(&l3, &a_new));
        assert!(l3.seq > l2.seq);
        // Reading it again changes nothing (the gate may take any copy of one seq).
        assert_eq!(revocation_list(o.addr).await.seq, l3.seq);
        (l3.seq, a_new)
    };
    // A restarted origin publishes the same list, never an older seq.
    let o = start(&dir, &[]).await;
    let after = revocation_list(o.addr).await;
    assert_eq!(after.seq, seq_before);
    assert!(!revokes(&after, &a_new));
    // The laptop's, the phone's and bob's sessions, and alice as a subject.
    assert_eq!(after.len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A form POST to `path` carrying the identity the gate forwards for `access`.
async fn post_form_as(
    addr: SocketAddr,
    path: &str,
    access: &str,
    form: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> HttpResponse {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        body.append_pair(k, v);
    }
    let body = body.finish();
    let owned = gate_headers(access);
    let mut headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.push(("Content-Type", "application/x-www-form-urlencoded"));
    headers.extend_from_slice(extra);
    request(addr, "POST", path, &headers, body.as_bytes()).await
}

#[tokio::test]
async fn a_password_change_ends_every_session_and_is_published() {
    let dir = temp_dir();
    let o = start(&dir, &[]).await;
    let (laptop_a, laptop_r) = session(o.addr).await;
    let (phone_a, phone_r) = session(o.addr).await;
    let change = |current: &'static str, new: &'static str| {
        [("current_password", current), ("new_password", new)]
    };
    let path = "/auth/password";

    // Refused: wrong current password, a weak or unchanged new one, no form, no identity,
    // another site. Nothing is revoked.
    let res = post_form_as(
        o.addr,
        path,
        &phone_a,
        &change("wrong", "new password 1"),
        &[],
    )
    .await;
    assert_eq!(
        (res.status, res.json()["error"].clone()),
        (403, "invalid_credentials".into())
    );
    for weak in ["short", "wonderland"] {
        let res = post_form_as(o.addr, path, &phone_a, &change("wonderland", weak), &[]).await;
        assert_eq!(
            (res.status, res.json()["error"].clone()),
            (400, "weak_password".into())
        );
    }
    let res = post_as(o.addr, path, &phone_a, &[]).await;
    assert_eq!(res.status, 415);
    let res = request(
        o.addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"current_password=wonderland&new_password=new+password+1",
    )
    .await;
    assert_eq!(res.status, 401);
    let res = post_form_as(
        o.addr,
        path,
        &phone_a,
        &change("wonderland", "new password 1"),
        &[("Sec-Fetch-Site", "cross-site")],
    )
    .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"], "cross_site_request");
    // A refused form submission goes back to the page, saying why.
    let res = post_form_as(
        o.addr,
        path,
        &phone_a,
        &change("wrong", "new password 1"),
        &[("Sec-Fetch-Mode", "navigate")],
    )
    .await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/?password=invalid_credentials"))
    );
    assert_eq!(revocation_list(o.addr).await.len(), 0);

    // Changed: every session ends and is published; cookies are cleared.
    let res = post_form_as(
        o.addr,
        path,
        &phone_a,
        &change("wonderland", "new password 1"),
        &[],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["revoked"], 2);
    assert!(clears_both_cookies(&res));
    assert_eq!(refresh_api(o.addr, &laptop_r).await.status, 401);
    assert_eq!(refresh_api(o.addr, &phone_r).await.status, 401);
    let list = revocation_list(o.addr).await;
    assert!(revokes(&list, &laptop_a) && revokes(&list, &phone_a));

    // The old password no longer signs in, the new one does (and its token is valid at once).
    assert_eq!(login(o.addr, "alice", "wonderland", "/").await.status, 401);
    let r = login(o.addr, "alice", "new password 1", "/").await;
    assert_eq!(r.status, 303);
    assert!(!revokes(
        &revocation_list(o.addr).await,
        &cookie(&r, "access")
    ));
    // A form submission goes to the login page, which says what happened.
    let res = post_form_as(
        o.addr,
        path,
        &cookie(&r, "access"),
        &change("new password 1", "new password 2"),
        &[("Sec-Fetch-Mode", "navigate")],
    )
    .await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/auth/login?logged_out=password"))
    );
    let page = request(o.addr, "GET", "/auth/login?logged_out=password", &[], b"").await;
    assert!(String::from_utf8_lossy(&page.body).contains("Password changed"));
    // The password change is kept across a restart.
    drop(o);
    let o = start(&dir, &[]).await;
    assert_eq!(
        login(o.addr, "alice", "new password 1", "/").await.status,
        401
    );
    assert_eq!(
        login(o.addr, "alice", "new password 2", "/").await.status,
        303
    );
    assert_eq!(login(o.addr, "bob", "builder", "/").await.status, 303);
    let _ = std::fs::remove_dir_all(&dir);
}
