//! The wasm-bindgen exports (wasm32 only): `Engine`, one per isolate (the gate) or per
//! `Verifier`. Strings in, one JSON text ([`wire`]) out.

use super::wire::{self, Keys, VerifiedSignatures};
use crate::config::RevocationSource;
use crate::config::{Config, ConfigError};
use crate::gate::{DocumentStep, Facts, Gate, Reply, RequestParts, Step};
use crate::low_level::alg::Alg;
use crate::low_level::jwks::{self, FetchFrom, RemoteKeys};
use crate::low_level::keys::{Key, KeySet};
use crate::low_level::log;
use crate::low_level::revocation::{self, Offered, Revocations};
use crate::verify::{Answered, Checked, SignatureCheck, SignatureInput, Verdict, VerifyError};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// The isolate's gate: configuration (validated once), remote keys, and the decision.
#[wasm_bindgen]
pub struct Engine {
    gate: Result<Gate, ConfigError>,
    remote: RemoteKeys,
    revocations: Revocations,
    verified: RefCell<VerifiedSignatures>,
}

/// A member of a JS object as text: `[vars]` may hold TOML numbers, booleans or tables, which
/// reach the worker as JS numbers, booleans or objects; they are read as their text / JSON form.
fn member_string(object: &JsValue, key: &str) -> Option<String> {
    let v = js_sys::Reflect::get(object, &JsValue::from_str(key)).ok()?;
    if v.is_undefined() || v.is_null() {
        return None;
    }
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(n) = v.as_f64() {
        // Whole numbers as integers; others through JS's own number formatting below.
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            return Some(format!("{}", n as i64));
        }
    }
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string())
}

fn configure(env: &JsValue) -> Result<Gate, ConfigError> {
    Config::from_lookup(&|key: &str| member_string(env, key)).map(Gate::new)
}

fn nonce() -> [u8; 16] {
    let mut b = [0u8; 16];
    get_random_values(&mut b);
    b
}

/// The check the edge injects: HMAC in Rust; other families answered from `answers` (recorded
/// in `verified` when they say yes), else from `verified`.
fn edge_check<'a>(
    keys: &'a Keys<'a>,
    answers: &'a str,
    verified: &'a RefCell<VerifiedSignatures>,
) -> impl SignatureCheck + 'a {
    Answered(move |key: &Key, input: &SignatureInput<'_>| {
        let r = keys.reference(key)?;
        match wire::answer_for(answers, &r) {
            Some(true) => {
                verified.borrow_mut().insert(&r, input);
                Some(true)
            }
            Some(false) => Some(false),
            None => verified.borrow().contains(&r, input).then_some(true),
        }
    })
}

fn engine(gate: Result<Gate, ConfigError>) -> Engine {
    let cap = gate.as_ref().map_or(0, |g| g.config().signature_cache);
    Engine {
        gate,
        remote: RemoteKeys::default(),
        revocations: Revocations::default(),
        verified: RefCell::new(VerifiedSignatures::new(cap)),
    }
}

#[wasm_bindgen]
impl Engine {
    /// The gate for `env` (`[vars]` and secrets). Never throws: a configuration error makes every
    /// decision a `500 misconfigured` (see [`startup_lines`](Self::startup_lines)).
    #[wasm_bindgen(constructor)]
    pub fn new(env: &JsValue) -> Engine {
        engine(configure(env))
    }

    /// Like the constructor, but throws the configuration error (it names the key).
    #[wasm_bindgen(js_name = forVerifier)]
    pub fn for_verifier(env: &JsValue) -> Result<Engine, JsError> {
        let gate = configure(env).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(engine(Ok(gate)))
    }

    /// The log lines of start-up: configuration warnings, or the configuration error.
    #[wasm_bindgen(js_name = startupLines)]
    pub fn startup_lines(&self) -> Vec<String> {
        match &self.gate {
            Ok(g) => g
                .config()
                .warnings
                .iter()
                .map(|w| log::warning_line(w))
                .collect(),
            Err(e) => vec![log::config_error_line(e)],
        }
    }

    /// `JWKS_URL`, when configured.
    #[wasm_bindgen(getter, js_name = jwksUrl)]
    pub fn jwks_url(&self) -> Option<String> {
        let rc = self.gate.as_ref().ok()?.config().remote_jwks.as_ref()?;
        Some(rc.url.clone())
    }

    /// One step of the decision for a request. `header_names`: the inbound header names, one
    /// per line. `keys_fetched` / `revocations_fetched`: this request already had its chance to
    /// get remote keys / the first revocation list. `answers`: WebCrypto answers so far
    /// (`ref=1,ref=0`). `last`: refuse a signature still undecided instead of asking again.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        method: &str,
        url: &str,
        cookie: Option<String>,
        authorization: Option<String>,
        accept: Option<String>,
        sec_fetch_mode: Option<String>,
        sec_fetch_site: Option<String>,
        origin: Option<String>,
        upgrade: Option<String>,
        header_names: &str,
        connection: Option<String>,
        started_ms: f64,
        now_ms: f64,
        keys_fetched: bool,
        revocations_fetched: bool,
        answers: Option<String>,
        last: bool,
    ) -> String {
        let (self_origin, path, query) =
            crate::low_level::path::split_request_url(url).unwrap_or(("", "", None));
        let verify_us = ((now_ms - started_ms).max(0.0) * 1000.0) as u64;
        let request = wire::Request {
            method,
            path,
            header_names,
            connection: connection.as_deref(),
            verify_us,
            now: (now_ms / 1000.0).floor() as i64,
        };
        let gate = match &self.gate {
            Ok(g) => g,
            Err(e) => {
                // Fail closed, and every answer says why (naming the key, never a secret).
                let reply = Reply::misconfigured();
                let wire = wire::Wire::reply(&reply, None);
                return wire::with_log(&wire, Some(&log::config_error_line(e)));
            }
        };
        let parts = RequestParts {
            method,
            path,
            query,
            cookie: cookie.as_deref(),
            authorization: authorization.as_deref(),
            accept: accept.as_deref(),
            sec_fetch_mode: sec_fetch_mode.as_deref(),
            sec_fetch_site: sec_fetch_site.as_deref(),
            origin: origin.as_deref(),
            upgrade: upgrade.as_deref(),
            self_origin,
        };
        let remote = gate.config().remote_jwks.is_some().then_some(&self.remote);
        let revocations = gate
            .config()
            .revocation
            .is_some()
            .then_some(&self.revocations);
        let facts = Facts {
            now_ms,
            remote,
            keys_fetched,
            revocations,
            revocations_fetched,
        };
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        let answers = answers.unwrap_or_default();
        let check = edge_check(&keys, &answers, &self.verified);
        if last {
            let outcome = gate.decide_with(&parts, &facts, &check);
            return wire::outcome_json(gate, &outcome, &request, &nonce);
        }
        match gate.step(&parts, &facts, &check) {
            Step::Decided(outcome) => wire::outcome_json(gate, &outcome, &request, &nonce),
            Step::NeedKeys { unknown_kid } => wire::to_json(&wire::Wire::Keys { unknown_kid }),
            Step::NeedRevocations => wire::to_json(&wire::Wire::Revocations),
            Step::NeedSignature(q) => wire::question_json(&q, &keys),
        }
    }

    /// The `Cache-Control` for the origin's response to an authenticated request, or
    /// `undefined` to keep it (see [`crate::low_level::headers::private_cache_control`]).
    #[wasm_bindgen(js_name = cacheControl)]
    pub fn cache_control(&self, current: Option<String>) -> Option<String> {
        crate::low_level::headers::private_cache_control(current.as_deref())
    }

    /// The `502 origin_unreachable` answer and its log line.
    #[wasm_bindgen(js_name = originUnreachable)]
    pub fn origin_unreachable(&self, method: &str, url: &str, timing: Option<String>) -> String {
        let path = crate::low_level::path::split_request_url(url).map_or("", |(_, p, _)| p);
        let reply = Reply::error(502, "origin_unreachable");
        let line = log::origin_error_line(method, path);
        let wire = wire::Wire::reply(&reply, timing);
        wire::with_log(&wire, Some(&line))
    }

    /// How to import the key `reference` names into WebCrypto (JSON, see
    /// [`wire::import_json`]); `undefined` when it no longer exists.
    #[wasm_bindgen(js_name = importKey)]
    pub fn import_key(&self, reference: &str) -> Option<String> {
        let gate = self.gate.as_ref().ok()?;
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        keys.get(reference).map(wire::import_json)
    }

    /// Starts a fetch of the remote JWK Set if the refresh rules allow one now: 0 = no fetch,
    /// 1 = the location's cache first, then the IdP, 2 = the IdP.
    #[wasm_bindgen(js_name = beginKeyFetch)]
    pub fn begin_key_fetch(&mut self, now_ms: f64, unknown_kid: bool) -> u8 {
        let Some(rc) = self
            .gate
            .as_ref()
            .ok()
            .and_then(|g| g.config().remote_jwks.as_ref())
        else {
            return 0;
        };
        match self
            .remote
            .begin_fetch(now_ms, rc.cooldown_ms(), unknown_kid)
        {
            None => 0,
            Some(FetchFrom::CacheThenIdp) => 1,
            Some(FetchFrom::Idp) => 2,
        }
    }

    /// A JWK Set from the location's cache, `remaining_ms` still fresh. `false`: unusable (the
    /// caller goes to the IdP; the fetch is still running).
    #[wasm_bindgen(js_name = keysFromCache)]
    pub fn keys_from_cache(&mut self, body: &str, remaining_ms: f64, now_ms: f64) -> bool {
        match usable_set(body) {
            Ok((set, _)) => {
                self.remote.loaded(now_ms, set, remaining_ms);
                true
            }
            Err(_) => false,
        }
    }

    /// A JWK Set from the IdP with its `Cache-Control`. Returns the JSON
    /// `{"ttl":<seconds to keep it in the location's cache, 0 = do not>,"lines":[log lines]}`;
    /// an unusable set counts as a failed fetch.
    #[wasm_bindgen(js_name = keysFromIdp)]
    pub fn keys_from_idp(
        &mut self,
        body: &str,
        cache_control: Option<String>,
        now_ms: f64,
    ) -> String {
        let Some(rc) = self
            .gate
            .as_ref()
            .ok()
            .and_then(|g| g.config().remote_jwks.clone())
        else {
            return r#"{"ttl":0,"lines":[]}"#.to_owned();
        };
        let (ttl, lines) = match usable_set(body) {
            Ok((set, lines)) => {
                let ttl = jwks::cache_ttl(cache_control.as_deref(), rc.cache_seconds);
                self.remote.loaded(now_ms, set, ttl as f64 * 1000.0);
                (ttl, lines)
            }
            Err(problem) => (0, vec![self.keys_failed(&problem)]),
        };
        serde_json::json!({ "ttl": ttl, "lines": lines }).to_string()
    }

    /// The fetch failed (`problem`, without secrets): the keys held keep serving. Returns the
    /// log line.
    #[wasm_bindgen(js_name = keysFailed)]
    pub fn keys_failed(&mut self, problem: &str) -> String {
        self.remote.failed();
        log::jwks_error_line(problem, self.remote.keys().is_some())
    }

    /// The revocation source, when configured, as JSON: `{"url":…}` or `{"kv":"<key>"}`, with
    /// `"interval_ms"` (`REVOCATION_REFRESH_SECONDS`) and `"cache_ttl"` (seconds a copy fetched
    /// from the source stays in the location's cache: half the interval, so the copy adds at
    /// most half an interval to the revocation delay).
    #[wasm_bindgen(getter)]
    pub fn revocation(&self) -> Option<String> {
        let rc = self.gate.as_ref().ok()?.config().revocation.as_ref()?;
        let cache_ttl = (rc.refresh_seconds / 2).max(1);
        let interval_ms = rc.refresh_seconds * 1000;
        let source = match &rc.source {
            RevocationSource::Url(url) => format!("\"url\":{}", wire::json_string(url)),
            RevocationSource::Kv { key } => format!("\"kv\":{}", wire::json_string(key)),
        };
        Some(format!(
            "{{{source},\"interval_ms\":{interval_ms},\"cache_ttl\":{cache_ttl}}}"
        ))
    }

    /// Starts a fetch of the revocation list if one is due now: 0 = no fetch, 1 = the location's
    /// cache first, then the source, 2 = the source.
    #[wasm_bindgen(js_name = beginRevocationFetch)]
    pub fn begin_revocation_fetch(&mut self, now_ms: f64) -> u8 {
        let Some(rc) = self
            .gate
            .as_ref()
            .ok()
            .and_then(|g| g.config().revocation.as_ref())
        else {
            return 0;
        };
        match self.revocations.begin_fetch(now_ms, rc.interval_ms()) {
            None => 0,
            Some(revocation::FetchFrom::CacheThenSource) => 1,
            Some(revocation::FetchFrom::Source) => 2,
        }
    }

    /// A revocation document (`body`) arrived. Returns a signature question
    /// (`{"step":"signature",…}`: answer it and call again with `answers`), or
    /// `{"ok":true|false,"lines":[log lines]}`; `ok` when the document is authentic, current and
    /// no older than the list held, which it then replaces. `last`: refuse a signature still
    /// undecided. Ends the fetch [`begin_revocation_fetch`](Self::begin_revocation_fetch) began
    /// unless it asks a question.
    #[wasm_bindgen(js_name = revocationDocument)]
    pub fn revocation_document(
        &mut self,
        body: &str,
        now_ms: f64,
        answers: Option<String>,
        last: bool,
    ) -> String {
        let Ok(gate) = &self.gate else {
            return r#"{"ok":false,"lines":[]}"#.to_owned();
        };
        let Some(rc) = gate.config().revocation.as_ref() else {
            return r#"{"ok":false,"lines":[]}"#.to_owned();
        };
        let answers = answers.unwrap_or_default();
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        // Documents are not remembered in the signature cache: each is signed once.
        let check = Answered(|key: &Key, _: &SignatureInput<'_>| {
            wire::answer_for(&answers, &keys.reference(key)?)
        });
        let list = match gate.revocation_document(body, now_ms, Some(&self.remote), &check) {
            DocumentStep::NeedSignature(q) if !last => return wire::question_json(&q, &keys),
            DocumentStep::NeedSignature(_) => Err(revocation::RevocationError::Signature),
            DocumentStep::Refused(e) => Err(e),
            DocumentStep::Verified(list) => Ok(list),
        };
        let result = list.and_then(|l| self.revocations.offer(now_ms, rc.interval_ms(), l));
        match result {
            Ok(Offered::Newer | Offered::Renewed) => r#"{"ok":true,"lines":[]}"#.to_owned(),
            Err(e) => {
                self.revocations.failed();
                let holding = self.revocations.held().is_some();
                let line = log::revocation_error_line("revocation_refused", e.code(), holding);
                format!(r#"{{"ok":false,"lines":[{}]}}"#, wire::json_string(&line))
            }
        }
    }

    /// The revocation fetch failed (`problem`, without secrets): the list held keeps serving.
    /// Returns the log line.
    #[wasm_bindgen(js_name = revocationFailed)]
    pub fn revocation_failed(&mut self, problem: &str) -> String {
        self.revocations.failed();
        let holding = self.revocations.held().is_some();
        log::revocation_error_line("revocation_fetch_failed", problem, holding)
    }

    /// What the JS entry shows the core as `REVOCATION_KV` when that is a KV namespace binding.
    #[wasm_bindgen(js_name = kvBinding)]
    pub fn kv_binding() -> String {
        crate::config::KV_BINDING.to_owned()
    }

    /// A start-up style warning line (e.g. a key WebCrypto refused to import).
    #[wasm_bindgen(js_name = warningLine)]
    pub fn warning_line(message: &str) -> String {
        log::warning_line(message)
    }

    /// The `Verifier`: verifies `token` at `now_ms` exactly as the gate does for a cookie.
    /// Returns `{"ok":true,"sub":…,"claims":<the payload segment>}`, `{"ok":false,"code":…}` or a
    /// signature question (`{"step":"signature",…}`).
    pub fn verify(&self, token: &str, now_ms: f64, answers: Option<String>, last: bool) -> String {
        let Ok(gate) = &self.gate else {
            return r#"{"ok":false,"code":"misconfigured"}"#.to_owned();
        };
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        let answers = answers.unwrap_or_default();
        let check = edge_check(&keys, &answers, &self.verified);
        let v = &gate.config().verifier;
        let refused =
            |e: VerifyError| serde_json::json!({"ok": false, "code": e.code()}).to_string();
        let pending = match v.prepare(token) {
            Ok(p) => p,
            Err(e) => return refused(e),
        };
        let signed = match v.check_signature(pending, &check) {
            Checked::Signed(s) => s,
            Checked::Undecided { pending, unknown } if !last => {
                let jws = &pending.parsed.jws;
                let q = crate::gate::SignatureQuestion {
                    alg: jws.header.alg,
                    keys: unknown,
                    message: jws.signing_input,
                    signature: jws.signature.clone(),
                };
                return wire::question_json(&q, &keys);
            }
            Checked::Forged | Checked::Undecided { .. } => return refused(VerifyError::Signature),
        };
        match v.finish(signed, (now_ms / 1000.0).floor() as i64) {
            Ok(verified) => {
                serde_json::json!({"ok": true, "sub": verified.sub, "claims": verified.payload_b64})
                    .to_string()
            }
            Err(e) => refused(e),
        }
    }

    /// One signature check through the gate's stage 3, for the differential tests: `jwk` (one
    /// JWK as JSON, `oct` allowed) is loaded the way a `JWKS` entry is, then `signature` over
    /// `message` is checked for `alg` — HMAC here; otherwise `answer` is WebCrypto's verdict,
    /// and when it is `undefined` the result asks for it. Returns `{"verdict":bool}` or
    /// `{"ask":<import JSON>}`; throws for an unknown `alg` or a refused key.
    #[wasm_bindgen(js_name = checkSignature)]
    pub fn check_signature(
        alg: &str,
        jwk: &str,
        message: &[u8],
        signature: &[u8],
        answer: Option<bool>,
    ) -> Result<String, JsError> {
        let alg = Alg::from_name(alg).ok_or_else(|| JsError::new("unknown alg"))?;
        let loaded = jwks::parse_jwks(&format!("{{\"keys\":[{jwk}]}}"), true)
            .map_err(|e| JsError::new(&format!("the JWK {e}")))?;
        let Some(key) = loaded.keys.first() else {
            return Err(JsError::new(&loaded.skipped.join("; ")));
        };
        if key.family != alg.family() {
            return Ok(r#"{"verdict":false}"#.to_owned());
        }
        let input = SignatureInput {
            alg,
            message,
            signature,
            signature_b64: "",
        };
        Ok(
            match Answered(|_: &Key, _: &SignatureInput<'_>| answer).check(key, &input) {
                Verdict::Valid => r#"{"verdict":true}"#.to_owned(),
                Verdict::Invalid => r#"{"verdict":false}"#.to_owned(),
                Verdict::Unknown => format!(r#"{{"ask":{}}}"#, wire::import_json(key)),
            },
        )
    }
}

/// A JWK Set body as usable keys, with a warning line per skipped key.
fn usable_set(body: &str) -> Result<(KeySet, Vec<String>), String> {
    let loaded = jwks::parse_jwks(body, false).map_err(|e| format!("the JWK Set {e}"))?;
    if loaded.keys.is_empty() {
        return Err("the JWK Set holds no usable signature key".into());
    }
    let lines = loaded
        .skipped
        .iter()
        .map(|s| log::warning_line(&format!("JWKS_URL: {s}")))
        .collect();
    Ok((KeySet::new(loaded.keys), lines))
}
