//! In-process integration tests: the real server on 127.0.0.1:0, raw HTTP/1.1.

mod common;

use base64::Engine as _;
use common::{get, request, send_raw, sha256_hex, start};
use edgegate_origin::{big_byte, LogEntry, FIXED_COOKIES, LOG_CAPACITY, MAX_BODY_BYTES};
use serde_json::{json, Value};

fn header_pairs_json(v: &Value) -> Vec<(String, String)> {
    v["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("pair");
            assert_eq!(pair.len(), 2);
            (
                pair[0].as_str().expect("name").to_owned(),
                pair[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn echo_reflects_method_path_query_headers_and_body() {
    let (addr, _) = start().await;
    let body: Vec<u8> = (0u16..1000).map(|i| (i % 256) as u8).collect();
    let resp = request(
        addr,
        "POST",
        "/api/a%2Fb/%E2%9C%93%20x?b=2&a=%41&&flag",
        &[
            ("X-Dup", "one"),
            ("X-Dup", "two"),
            ("X-Other", "v"),
            ("Cookie", "access=abc; other=1"),
        ],
        &body,
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("x-origin"), Some("edgegate-origin"));
    assert_eq!(resp.header("cache-control"), None);
    assert!(resp.header_all("set-cookie").is_empty());

    let v = resp.json();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/api/a%2Fb/%E2%9C%93%20x");
    assert_eq!(v["query"], "b=2&a=%41&&flag");
    assert_eq!(v["body_len"], 1000);
    assert_eq!(v["body_sha256"], sha256_hex(&body));
    assert_eq!(
        v["body_base64"],
        base64::engine::general_purpose::STANDARD.encode(&body)
    );

    let headers = header_pairs_json(&v);
    let dups: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-dup")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(dups, ["one", "two"]);
    for expected in [
        ("host", addr.to_string()),
        ("x-other", "v".to_owned()),
        ("cookie", "access=abc; other=1".to_owned()),
        ("content-length", "1000".to_owned()),
        ("connection", "close".to_owned()),
    ] {
        assert!(
            headers.contains(&(expected.0.to_owned(), expected.1.clone())),
            "missing {expected:?} in {headers:?}"
        );
    }
    // Names are lowercase.
    assert!(headers.iter().all(|(n, _)| *n == n.to_ascii_lowercase()));
    // First-appearance order of names is preserved.
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).expect(n);
    assert!(pos("host") < pos("x-dup"));
    assert!(pos("x-dup") < pos("x-other"));
    assert!(pos("x-other") < pos("cookie"));
}

#[tokio::test]
async fn echo_without_query_or_body() {
    let (addr, _) = start().await;
    for target in ["/", "/auth/refresh", "/auth/login", "/api/v1/things"] {
        let v = get(addr, target).await.json();
        assert_eq!(v["method"], "GET");
        assert_eq!(v["path"], target);
        assert_eq!(v["query"], Value::Null);
        assert_eq!(v["body_len"], 0);
        assert_eq!(v["body_sha256"], sha256_hex(b""));
        assert_eq!(v["body_base64"], "");
    }
    // An empty query (`/?`) is distinct from no query.
    assert_eq!(get(addr, "/?").await.json()["query"], "");
}

#[tokio::test]
async fn echo_any_method() {
    let (addr, _) = start().await;
    for method in ["PUT", "PATCH", "DELETE", "OPTIONS", "CUSTOM"] {
        let resp = request(addr, method, "/auth/refresh", &[], b"x").await;
        assert_eq!(resp.status, 200, "{method}");
        assert_eq!(resp.json()["method"], method);
    }
    // Diagnostic routes fall back to echo for methods they do not handle.
    let resp = request(addr, "POST", "/__cookies", &[], b"").await;
    assert_eq!(resp.json()["path"], "/__cookies");
    assert!(resp.header_all("set-cookie").is_empty());
    let resp = request(addr, "POST", "/__log", &[], b"").await;
    assert_eq!(resp.json()["path"], "/__log");
}

#[tokio::test]
async fn echo_large_body_has_no_base64() {
    let (addr, _) = start().await;
    let body = vec![7u8; 1024 * 1024 + 1];
    let v = request(addr, "POST", "/upload", &[], &body).await.json();
    assert_eq!(v["body_len"], body.len());
    assert_eq!(v["body_sha256"], sha256_hex(&body));
    assert_eq!(v["body_base64"], Value::Null);

    let body = vec![9u8; 1024 * 1024];
    let v = request(addr, "POST", "/upload", &[], &body).await.json();
    assert_eq!(
        v["body_base64"].as_str().map(str::len),
        Some(
            base64::engine::general_purpose::STANDARD
                .encode(&body)
                .len()
        )
    );
}

#[tokio::test]
async fn echo_chunked_request_body() {
    let (addr, _) = start().await;
    let raw = format!(
        "POST /chunked HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    );
    let v = send_raw(addr, raw.as_bytes()).await.json();
    assert_eq!(v["body_len"], 11);
    assert_eq!(v["body_sha256"], sha256_hex(b"hello world"));
}

#[tokio::test]
async fn echo_rejects_body_over_64_mib() {
    let (addr, _) = start().await;
    let body = vec![0u8; MAX_BODY_BYTES + 1];
    let resp = request(addr, "POST", "/too-big", &[], &body).await;
    assert_eq!(resp.status, 413);
}

#[tokio::test]
async fn echo_survives_odd_input() {
    let (addr, _) = start().await;
    // Non-UTF-8 header value (obs-text).
    let mut raw = format!("GET /odd HTTP/1.1\r\nHost: {addr}\r\nX-Bin: a").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe]);
    raw.extend_from_slice(b"z\r\nConnection: close\r\n\r\n");
    let resp = send_raw(addr, &raw).await;
    assert_eq!(resp.status, 200);
    let headers = header_pairs_json(&resp.json());
    assert!(headers.contains(&("x-bin".into(), "a\u{fffd}\u{fffd}z".into())));

    // A large query string.
    let q = "q=".to_owned() + &"x".repeat(60_000);
    let resp = get(addr, &format!("/search?{q}")).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["query"], q);

    // Undecodable percent sequences in the query.
    let resp = get(addr, "/?set_cookie=%ZZ&x=%ff%fe").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header_all("set-cookie"), ["%ZZ"]);

    // A set_cookie that cannot be a header value is a 400, not a panic.
    let resp = get(addr, "/?set_cookie=a%0D%0Ab").await;
    assert_eq!(resp.status, 400);
}

#[tokio::test]
async fn echo_set_cookie_query() {
    let (addr, _) = start().await;
    let resp = get(
        addr,
        "/auth/login?set_cookie=x%3D1&keep=1&set_cookie=y%3D2%3B%20Path%3D%2F%3B%20Expires%3DWed%2C%2021%20Oct%202037%2007%3A28%3A00%20GMT",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header_all("set-cookie"),
        ["x=1", "y=2; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT"]
    );
    assert_eq!(resp.header("x-origin"), Some("edgegate-origin"));
    assert_eq!(resp.json()["path"], "/auth/login");
}

#[tokio::test]
async fn cookies_are_three_separate_headers() {
    let (addr, _) = start().await;
    let resp = get(addr, "/__cookies").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.body, b"cookies set");
    assert_eq!(resp.header_all("set-cookie"), FIXED_COOKIES);
}

#[tokio::test]
async fn status_route() {
    let (addr, _) = start().await;
    let resp = get(addr, "/__status/302?location=/x").await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("/x"));
    assert_eq!(resp.json(), json!({"status": 302}));

    let resp = get(
        addr,
        "/__status/301?location=https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc",
    )
    .await;
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("https://example.com/a?b=c"));

    let resp = request(addr, "POST", "/__status/418", &[], b"body").await;
    assert_eq!(resp.status, 418);
    assert_eq!(resp.header("location"), None);
    assert_eq!(resp.json(), json!({"status": 418}));

    for code in ["200", "404", "503", "599"] {
        let resp = get(addr, &format!("/__status/{code}")).await;
        assert_eq!(resp.status.to_string(), code);
        assert_eq!(resp.json()["status"].to_string(), code);
    }

    for code in [204, 205, 304] {
        let resp = get(addr, &format!("/__status/{code}")).await;
        assert_eq!(resp.status, code);
        assert!(resp.body.is_empty());
        assert_ne!(resp.header("content-length"), Some("14"));
    }

    for bad in [
        "%FF",
        "99",
        "100",
        "101",
        "199",
        "600",
        "abc",
        "-1",
        "99999999999",
    ] {
        let resp = request(addr, "DELETE", &format!("/__status/{bad}"), &[], b"").await;
        assert_eq!(resp.status, 400, "{bad}");
        assert!(resp.json()["error"].is_string());
    }
}

#[tokio::test]
async fn big_streams_deterministic_body() {
    let (addr, _) = start().await;
    let resp = get(addr, "/__big?bytes=100000").await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(resp.chunked, "expected a streamed (chunked) body");
    assert_eq!(resp.body.len(), 100_000);
    let expected: Vec<u8> = (0..100_000u64).map(big_byte).collect();
    assert_eq!(resp.body, expected);
    assert_eq!(resp.body[251], 0);
    assert_eq!(resp.body[250], 250);
    let sha = sha256_hex(&resp.body);
    assert_eq!(resp.header("x-body-sha256"), Some(sha.as_str()));

    let resp = get(addr, "/__big?bytes=0").await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("x-body-sha256"), Some(sha256_hex(b"").as_str()));

    for bad in [
        "/__big",
        "/__big?bytes=",
        "/__big?bytes=-1",
        "/__big?bytes=1e3",
        "/__big?bytes=67108865",
    ] {
        assert_eq!(get(addr, bad).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn big_maximum_size() {
    let (addr, _) = start().await;
    let resp = get(addr, "/__big?bytes=67108864").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 64 * 1024 * 1024);
    assert_eq!(
        resp.header("x-body-sha256"),
        Some(sha256_hex(&resp.body).as_str())
    );
}

#[tokio::test]
async fn log_records_and_clears() {
    let (addr, state) = start().await;
    assert_eq!(get(addr, "/__log").await.json(), json!([]));

    get(addr, "/first?x=1").await;
    request(addr, "POST", "/__status/201", &[("X-Test", "yes")], b"abc").await;
    get(addr, "/__cookies").await;

    let resp = get(addr, "/__log").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let log = resp.json();
    let entries = log.as_array().expect("array");
    assert_eq!(entries.len(), 3, "{log}");
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[0]["path"], "/first");
    assert_eq!(entries[0]["query"], "x=1");
    assert_eq!(entries[1]["method"], "POST");
    assert_eq!(entries[1]["path"], "/__status/201");
    assert_eq!(entries[1]["query"], Value::Null);
    assert!(header_pairs_json(&entries[1]).contains(&("x-test".into(), "yes".into())));
    assert_eq!(entries[2]["path"], "/__cookies");
    assert_eq!(state.log_snapshot().len(), 3);

    let resp = request(addr, "DELETE", "/__log", &[], b"").await;
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());
    assert_eq!(get(addr, "/__log").await.json(), json!([]));
    assert!(state.log_snapshot().is_empty());

    get(addr, "/after").await;
    let log = get(addr, "/__log").await.json();
    assert_eq!(log.as_array().map(Vec::len), Some(1));
    assert_eq!(log[0]["path"], "/after");
}

#[tokio::test]
async fn log_is_capped() {
    let (addr, state) = start().await;
    for i in 0..=LOG_CAPACITY {
        state.record(LogEntry {
            method: "GET".into(),
            path: format!("/{i}"),
            query: None,
            headers: Vec::new(),
        });
    }
    let log = get(addr, "/__log").await.json();
    let entries = log.as_array().expect("array");
    assert_eq!(entries.len(), LOG_CAPACITY);
    assert_eq!(entries[0]["path"], "/1");
    assert_eq!(
        entries[LOG_CAPACITY - 1]["path"],
        format!("/{LOG_CAPACITY}")
    );
    // One more real request pushes out the next oldest.
    get(addr, "/newest").await;
    let snapshot = state.log_snapshot();
    assert_eq!(snapshot.len(), LOG_CAPACITY);
    assert_eq!(snapshot[0].path, "/2");
    assert_eq!(snapshot[LOG_CAPACITY - 1].path, "/newest");
}

#[tokio::test]
async fn keep_alive_connection_serves_several_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, _) = start().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let two = format!(
        "GET /one HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /two HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(two.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(common::TIMEOUT, stream.read_to_end(&mut buf))
        .await
        .expect("timeout")
        .expect("read");
    let text = String::from_utf8_lossy(&buf);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains(r#""path":"/one""#));
    assert!(text.contains(r#""path":"/two""#));
}
