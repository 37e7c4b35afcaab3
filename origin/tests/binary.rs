//! Tests that run the compiled `edgegate-origin` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

const BIN: &str = env!("CARGO_BIN_EXE_edgegate-origin");
const LINE_PREFIX: &str = "edgegate-origin listening on http://127.0.0.1:";

fn run(args: &[&str], env_secret: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("JWT_SECRET");
    if let Some(secret) = env_secret {
        cmd.env("JWT_SECRET", secret);
    }
    cmd.output().expect("run binary")
}

/// Kills the child on drop so a failing test never leaks a server.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `edgegate-origin ARGS`, returns it with the port from its first stdout line.
fn spawn_server(args: &[&str]) -> (Server, u16, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn binary");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let port = line
        .strip_prefix(LINE_PREFIX)
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert_ne!(port, 0);
    (server, port, line)
}

fn http_get(port: u16, target: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[cfg(unix)]
fn wait_exit(server: &mut Server, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[cfg(unix)]
fn send_signal(server: &Server, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.0.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn serve_prints_port_line_serves_and_stops_on_sigterm() {
    let (mut server, port, line) = spawn_server(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(line, format!("{LINE_PREFIX}{port}\n"));
    let response = http_get(port, "/hello?x=1");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("x-origin: edgegate-origin\r\n"));
    assert!(response.contains(r#""path":"/hello""#));

    #[cfg(unix)]
    {
        send_signal(&server, "TERM");
        let status =
            wait_exit(&mut server, Duration::from_secs(10)).expect("did not exit on SIGTERM");
        assert!(status.success(), "{status:?}");
    }
    #[cfg(not(unix))]
    let _ = &mut server;
}

#[cfg(unix)]
#[test]
fn default_command_is_serve_and_stops_on_sigint() {
    let (mut server, port, _) = spawn_server(&[]);
    assert!(http_get(port, "/__cookies").contains("set-cookie: b=2; Path=/; HttpOnly\r\n"));
    send_signal(&server, "INT");
    let status = wait_exit(&mut server, Duration::from_secs(10)).expect("did not exit on SIGINT");
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_refuses_non_loopback() {
    let out = run(&["serve", "--listen", "0.0.0.0:0"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}

#[test]
fn help_and_bad_args() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("USAGE:"));

    for args in [
        &["bogus"][..],
        &["serve", "--nope"],
        &["mint"],
        &["mint", "--sub"],
    ] {
        let out = run(args, Some("s"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("USAGE:"),
            "{args:?}"
        );
    }
}

fn token_from(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8");
    let token = stdout.strip_suffix('\n').expect("trailing newline");
    assert_eq!(token.split('.').count(), 3);
    token.to_owned()
}

#[test]
fn mint_prints_verifiable_token() {
    let out = run(
        &[
            "mint",
            "--secret",
            "s3cret",
            "--sub",
            "alice",
            "--alg",
            "HS384",
            "--iss",
            "me",
            "--aud",
            "gate",
            "--claims",
            r#"{"scope":"read"}"#,
        ],
        None,
    );
    let token = token_from(&out);
    assert_eq!(decode_header(&token).expect("header").alg, Algorithm::HS384);
    let mut validation = Validation::new(Algorithm::HS384);
    validation.set_issuer(&["me"]);
    validation.set_audience(&["gate"]);
    let data =
        decode::<Map<String, Value>>(&token, &DecodingKey::from_secret(b"s3cret"), &validation)
            .expect("valid token");
    assert_eq!(data.claims["sub"], "alice");
    assert_eq!(data.claims["scope"], "read");
    let iat = data.claims["iat"].as_i64().expect("iat");
    assert_eq!(data.claims["exp"].as_i64(), Some(iat + 600));
}

#[test]
fn mint_secret_from_env_and_expired_ttl() {
    let token = token_from(&run(
        &["mint", "--sub", "bob", "--ttl", "-120"],
        Some("envsecret"),
    ));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    let data =
        decode::<Map<String, Value>>(&token, &DecodingKey::from_secret(b"envsecret"), &validation)
            .expect("signed with env secret");
    let iat = data.claims["iat"].as_i64().expect("iat");
    assert_eq!(data.claims["exp"].as_i64(), Some(iat - 120));

    let err = decode::<Map<String, Value>>(
        &token,
        &DecodingKey::from_secret(b"envsecret"),
        &Validation::new(Algorithm::HS256),
    )
    .expect_err("expired");
    assert_eq!(
        *err.kind(),
        jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );
}

#[test]
fn mint_without_secret_fails() {
    let out = run(&["mint", "--sub", "x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[test]
fn jwt_secret_in_the_environment_does_not_leave_echo_mode() {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("DEMO_USERS", "alice:pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn binary");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    // The echo fallback answers the reference routes' paths.
    let response = http_get(port, "/auth/login");
    assert!(response.contains(r#""path":"/auth/login""#), "{response}");
    let _ = &mut server;
}

#[test]
fn reference_mode_reports_configuration_errors() {
    for (args, needle) in [
        (&["serve", "--reference"][..], "JWT_SECRET"),
        (
            &["serve", "--jwt-secret", "0123456789abcdef0123456789abcdef"],
            "at least one user",
        ),
        (
            &[
                "serve",
                "--reference",
                "--alg",
                "ES256",
                "--user",
                "a:b",
                "--access-ttl",
                "0",
            ],
            "ACCESS_TTL",
        ),
        (&["serve", "--user", "a:b"], "--reference"),
    ] {
        let out = run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("0123456789abcdef0123"),
            "secret echoed: {stderr}"
        );
    }
}

#[test]
fn hash_password_reads_stdin_and_prints_an_argon2id_phc() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let phc = String::from_utf8(out.stdout).expect("utf-8");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    assert!(!phc.contains("correct horse"));
    let users = edgegate_origin::reference::users::Users::new(&[
        edgegate_origin::reference::config::UserSpec::Hashed {
            name: "x".into(),
            phc: phc.trim().to_owned(),
        },
    ])
    .expect("a valid hash");
    assert!(users.verify("x", "correct horse", None));
}
