//! The whole decision, `Gate::decide`, on arbitrary requests against a fixed configuration with a
//! known secret. Half the inputs carry a validly signed token whose header and claims are fuzzed,
//! so signature checking, claims, policy conditions and redirects are reached, not only parsing.
//!
//! Invariants besides "no panic": a forward with identity only ever follows a genuine token
//! (the `sub` forwarded is the signed one, the claims header is the signed payload); the forwarded
//! URL stays on the origin; every redirect's `return_to` is a same-origin relative path; a
//! Cookie header over the limit is always 431; a public path never carries identity.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use edgegate::config::Config;
use edgegate::gate::{Action, Gate, RequestParts};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SECRET: &str = "fuzz-secret-0123456789abcdef-0123456789";
const ORIGIN: &str = "http://127.0.0.1:9000/app";
const NOW: i64 = 1_700_000_000;

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let vars = |k: &str| -> Option<String> {
            let v = match k {
                "ORIGIN_URL" => ORIGIN,
                "ALGORITHMS" => "HS256,HS384,ES256,EdDSA",
                "JWT_SECRET" => SECRET,
                // Public keys too, so fuzzed ES256/EdDSA tokens reach key selection and the
                // signature check (never valid: nobody here holds the private keys).
                "JWKS" => r#"{"keys":[
                    {"kty":"EC","crv":"P-256","kid":"ec","x":"oyNtkkLArwk3kxlgg83MRYwlN_ywoRRGME1RCoC9Gr8","y":"BRetzZyuLsOJjqlOMDDM-u8SJxIqnvXAXa4IgVXJv5Q"},
                    {"kty":"OKP","crv":"Ed25519","x":"fT5rqsHnxmPsNMEXTSS7TkCShvMfFutAfFkNa_DL4v0"}]}"#,
                "ISSUER" => "https://id.example",
                "AUDIENCE" => "api",
                "PUBLIC_PATHS" => "/health,/static/",
                "ACCEPT_BEARER" => "true",
                "MAX_TOKEN_LIFETIME" => "86400",
                "SESSION_PATH" => "/auth/session",
                "POLICY" => r#"{"default":"authenticated","rules":[
                    {"name":"assets","path":"/assets/**","action":"public"},
                    {"name":"admin","path":"/admin/**","require":{"roles":"admin"}},
                    {"name":"orders","path":"/api/orders/**","methods":["POST","PUT"],"require":{"scope":"orders:write"}},
                    {"name":"tenant","path":"/t/{tenant}/**","require":{"tenant":"{tenant}"}},
                    {"name":"internal","path":"/internal/**","action":"deny"}]}"#,
                _ => return None,
            };
            Some(v.to_owned())
        };
        Gate::new(Config::from_lookup(&vars).expect("fuzz configuration is valid"))
    })
}

/// Claims built field by field (each optional) so the claim checks see near-valid tokens.
#[derive(Arbitrary, Debug)]
struct FuzzClaims<'a> {
    sub: Option<&'a str>,
    iss: Option<&'a str>,
    aud_list: bool,
    aud: Option<&'a str>,
    exp: Option<i32>,
    nbf: Option<i32>,
    iat: Option<i32>,
    roles: Option<&'a str>,
    scope: Option<&'a str>,
    tenant: Option<&'a str>,
    /// Raw JSON members appended verbatim (duplicates, odd types, nesting).
    extra: &'a str,
}

#[derive(Arbitrary, Debug)]
struct Signed<'a> {
    hs384: bool,
    /// Raw JSON members appended to the protected header.
    header_extra: &'a str,
    claims: FuzzClaims<'a>,
    /// Instead of the structured claims, sign these raw bytes as the payload.
    raw_payload: Option<&'a [u8]>,
    /// 0: cookie, 1: bearer, 2: both, 3: cookie plus another cookie of the same name.
    place: u8,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    cookie: Option<&'a str>,
    authorization: Option<&'a str>,
    accept: Option<&'a str>,
    sec_fetch_mode: Option<&'a str>,
    sec_fetch_site: Option<&'a str>,
    origin: Option<&'a str>,
    now_offset: i32,
    signed: Option<Signed<'a>>,
    // Last, so the seed corpus still decodes the fields above as before.
    upgrade: Option<&'a str>,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn claims_json(c: &FuzzClaims<'_>) -> String {
    let mut members = Vec::new();
    let mut put = |k: &str, v: String| members.push(format!("\"{k}\":{v}"));
    if let Some(s) = c.sub {
        put("sub", json_str(s));
    }
    if let Some(s) = c.iss {
        put(
            "iss",
            json_str(if s.is_empty() {
                "https://id.example"
            } else {
                s
            }),
        );
    }
    match (c.aud, c.aud_list) {
        (Some(a), false) => put("aud", json_str(if a.is_empty() { "api" } else { a })),
        (Some(a), true) => put("aud", format!("[{},\"api\"]", json_str(a))),
        (None, _) => {}
    }
    for (k, v) in [("exp", c.exp), ("nbf", c.nbf), ("iat", c.iat)] {
        if let Some(d) = v {
            put(k, (NOW + i64::from(d)).to_string());
        }
    }
    if let Some(r) = c.roles {
        put("roles", format!("[{}]", json_str(r)));
    }
    if let Some(s) = c.scope {
        put("scope", json_str(s));
    }
    if let Some(t) = c.tenant {
        put("tenant", json_str(t));
    }
    let mut out = format!("{{{}", members.join(","));
    if !c.extra.is_empty() {
        if !members.is_empty() {
            out.push(',');
        }
        out.push_str(c.extra);
    }
    out.push('}');
    out
}

fn mint(s: &Signed<'_>) -> (String, Vec<u8>) {
    let (alg, name) = if s.hs384 {
        (Algorithm::HS384, "HS384")
    } else {
        (Algorithm::HS256, "HS256")
    };
    let mut header = format!("{{\"alg\":\"{name}\"");
    if !s.header_extra.is_empty() {
        header.push(',');
        header.push_str(s.header_extra);
    }
    header.push('}');
    let payload = match s.raw_payload {
        Some(raw) => raw.to_vec(),
        None => claims_json(&s.claims).into_bytes(),
    };
    let token = common::sign_raw(header.as_bytes(), &payload, SECRET.as_bytes(), alg);
    (token, payload)
}

fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("EDGEGATE_FUZZ_TRACE").is_some())
}

fn check_return_to(location: &str) {
    let (_, target) = location
        .split_once("?return_to=")
        .expect("redirects carry return_to");
    assert!(target.starts_with("%2F"), "{location}");
    assert!(
        !target.starts_with("%2F%2F") && !target.starts_with("%2F%5C"),
        "{location}"
    );
    assert!(
        !target.contains(['/', '\\', '\r', '\n', '"', '<', ' ']),
        "{location}"
    );
}

fuzz_target!(|input: Input<'_>| {
    let g = gate();
    let minted = input.signed.as_ref().map(mint);
    let (cookie, authorization) = match (&input.signed, &minted) {
        (Some(s), Some((token, _))) => match s.place % 4 {
            0 => (
                Some(format!("{}; access={token}", input.cookie.unwrap_or("a=b"))),
                input.authorization.map(str::to_owned),
            ),
            1 => (
                input.cookie.map(str::to_owned),
                Some(format!("Bearer {token}")),
            ),
            2 => (
                Some(format!("access={token}")),
                Some(format!("Bearer {token}")),
            ),
            _ => (
                Some(format!(
                    "access={token}; {}",
                    input.cookie.unwrap_or("access=x")
                )),
                None,
            ),
        },
        _ => (
            input.cookie.map(str::to_owned),
            input.authorization.map(str::to_owned),
        ),
    };
    let req = RequestParts {
        method: input.method,
        path: input.path,
        query: input.query,
        cookie: cookie.as_deref(),
        authorization: authorization.as_deref(),
        accept: input.accept,
        sec_fetch_mode: input.sec_fetch_mode,
        sec_fetch_site: input.sec_fetch_site,
        origin: input.origin,
        upgrade: input.upgrade,
        self_origin: "https://gate.example",
    };
    let outcome = g.decide(&req, NOW + i64::from(input.now_offset));
    if trace() {
        // `EDGEGATE_FUZZ_TRACE=1 cargo fuzz run decision <corpus> -- -runs=0` lists what the
        // corpus reaches (e.g. `forward ok`), one line per input.
        eprintln!("edgegate-fuzz {} {}", outcome.decision, outcome.reason);
    }
    match &outcome.action {
        Action::Forward { url, identity, .. } => {
            assert!(url.starts_with(ORIGIN), "{url}");
            if let Some(id) = identity {
                // Identity only ever comes from the token this input signed.
                let (token, payload) = minted.as_ref().expect("identity without a signed token");
                assert_eq!(id.claims_b64, token.split('.').nth(1).unwrap());
                let claims: serde_json::Value = serde_json::from_slice(payload).unwrap();
                assert_eq!(claims["sub"].as_str(), Some(id.sub.as_str()));
                assert_eq!(outcome.decision, "forward");
            } else {
                assert_eq!(outcome.decision, "public");
            }
        }
        Action::Respond(reply) => {
            if let Some(loc) = &reply.location {
                check_return_to(loc);
            }
            if cookie
                .as_ref()
                .is_some_and(|c| c.len() > edgegate::low_level::cookie::MAX_COOKIE_HEADER_BYTES)
                && outcome.reason != "public"
                && reply.status == 401
            {
                panic!(
                    "oversize Cookie header answered {} {}",
                    reply.status, outcome.reason
                );
            }
        }
    }
});
