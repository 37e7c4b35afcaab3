//! Native cost of the gate's hot path (criterion). Run: `cargo bench -p edgegate --bench gate`.
//!
//! Baselines measured side by side in the same run: `jsonwebtoken::decode` with its own
//! `Validation` (what a straightforward Rust gate would call) against edgegate's strict
//! `Verifier::verify` (which adds the size cap, canonical base64url, duplicate-key and header
//! checks), plus the whole decision and the identity-assertion minting.
#[path = "../tests/common/mod.rs"]
mod common;

use common::{hs256, NOW, SECRET};
use criterion::{criterion_group, criterion_main, Criterion};
use edgegate::gate::{Gate, RequestParts};
use edgegate::low_level::assertion::Minter;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::json;
use std::hint::black_box;

fn token() -> String {
    hs256(
        &json!({"sub": "alice", "iat": NOW, "exp": 4_000_000_000i64, "roles": ["reader"], "iss": "https://id.example", "aud": "edge"}),
    )
}

fn gate() -> Gate {
    common::gate(&[("ISSUER", "https://id.example"), ("AUDIENCE", "edge")])
}

fn benches(c: &mut Criterion) {
    let t = token();
    let g = gate();
    let mut group = c.benchmark_group("hs256");
    group.bench_function("baseline: jsonwebtoken::decode", |b| {
        let key = DecodingKey::from_secret(SECRET.as_bytes());
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&["https://id.example"]);
        v.set_audience(&["edge"]);
        b.iter(|| decode::<serde_json::Value>(black_box(&t), &key, &v).expect("valid"))
    });
    group.bench_function("edgegate: Verifier::verify", |b| {
        b.iter(|| {
            g.verifier()
                .verify(black_box(&t), NOW)
                .expect("valid")
                .sub
                .len()
        })
    });
    let cookie = format!("theme=dark; access={t}; lang=en");
    let req = RequestParts {
        method: "GET",
        path: "/api/orders/7",
        query: Some("page=2"),
        cookie: Some(&cookie),
        accept: Some("application/json"),
        self_origin: "https://app.example",
        ..Default::default()
    };
    group.bench_function(
        "edgegate: Gate::decide (cookie, path, verify, forward)",
        |b| b.iter(|| g.decide(black_box(&req), NOW).reason),
    );
    group.finish();

    let minter = Minter::new(&[7u8; 32], "https://origin.example", 30).expect("minter");
    c.bench_function("assertion: Minter::mint", |b| {
        b.iter(|| {
            minter.mint(
                Some(black_box("alice")),
                "POST",
                "/api/orders/7",
                NOW,
                [9; 16],
            )
        })
    });
}

/// Per algorithm: `Verifier::verify` (strict parse + key selection + signature + claims) on the
/// independently signed fixtures of `tests/fixtures/jws.json`.
fn per_algorithm(c: &mut Criterion) {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/jws.json")).expect("fixtures");
    let jwks = fixtures["jwks"].to_string();
    let g = common::gate(&[
        (
            "ALGORITHMS",
            "HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA",
        ),
        ("JWT_SECRET", ""),
        ("JWKS", &jwks),
    ]);
    let mut group = c.benchmark_group("verify");
    for t in fixtures["tokens"].as_array().expect("tokens") {
        let alg = t["alg"].as_str().expect("alg").to_owned();
        let token = t["token"].as_str().expect("token").to_owned();
        group.bench_function(alg, |b| {
            b.iter(|| {
                g.verifier()
                    .verify(black_box(&token), NOW)
                    .expect("valid")
                    .sub
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(gate_benches, benches, per_algorithm);
criterion_main!(gate_benches);
