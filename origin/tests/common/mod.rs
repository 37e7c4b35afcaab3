//! A minimal HTTP/1.1 client over raw TCP (`Connection: close`), plus helpers
//! to run the origin in-process.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use edgegate_origin::{serve, AppState};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Per-request timeout so a hung server fails the test instead of stalling it.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the origin on 127.0.0.1:0 in a background task.
pub async fn start() -> (SocketAddr, AppState) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let state = AppState::new();
    tokio::spawn(serve(listener, state.clone()));
    (addr, state)
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header lines in wire order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked transfer coding removed).
    pub body: Vec<u8>,
    /// Whether the body arrived with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `raw` verbatim, reads until EOF, and parses the response.
pub async fn send_raw(addr: SocketAddr, raw: &[u8]) -> HttpResponse {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(raw).await.expect("write request");
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.expect("read response");
        buf
    };
    let buf = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("request timed out");
    parse_response(&buf)
}

/// Builds and sends a request with `Host`, `Connection: close` and, when
/// `body` is non-empty or the method usually has one, `Content-Length`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
    for (name, value) in headers {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    raw.extend_from_slice(b"Connection: close\r\n\r\n");
    raw.extend_from_slice(body);
    send_raw(addr, &raw).await
}

/// `GET target` with no extra headers.
pub async fn get(addr: SocketAddr, target: &str) -> HttpResponse {
    request(addr, "GET", target, &[], b"").await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete HTTP/1.1 response (as read until EOF).
pub fn parse_response(buf: &[u8]) -> HttpResponse {
    let head_end = find(buf, b"\r\n\r\n").expect("no end of headers");
    let head = std::str::from_utf8(&buf[..head_end]).expect("non-UTF-8 head");
    let rest = &buf[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        decode_chunked(rest)
    } else if let Some((_, len)) = headers.iter().find(|(n, _)| n == "content-length") {
        let len: usize = len.parse().expect("content-length");
        assert!(rest.len() >= len, "short body: {} < {len}", rest.len());
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
        chunked,
    }
}

fn decode_chunked(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").expect("chunk size line");
        let size_line = std::str::from_utf8(&rest[..line_end]).expect("chunk size");
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).expect("chunk size hex");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n", "chunk terminator");
        rest = &rest[size + 2..];
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    edgegate_origin::hex_lower(&sha2::Sha256::digest(data))
}
