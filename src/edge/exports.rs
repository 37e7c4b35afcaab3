//! The wasm-bindgen exports (wasm32 only): `Engine`, one per isolate (the gate) or per
//! `Verifier`. Strings in, one JSON text ([`wire`]) out.

use super::isolate::{edge_check, Inbound, Isolate, Offering, Stepped};
use super::js::{member_string, nonce};
use super::wire::{self, Keys};
use crate::config::{Config, ConfigError, RevocationSource};
use crate::gate::{Gate, Reply};
use crate::low_level::alg::Alg;
use crate::low_level::jwks::{self, FetchFrom};
use crate::low_level::keys::Key;
use crate::low_level::log;
use crate::low_level::revocation;
use crate::verify::{Answered, Checked, SignatureCheck, SignatureInput, Verdict, VerifyError};
use wasm_bindgen::prelude::*;

/// The isolate's gate: configuration (validated once), remote keys, and the decision (the
/// state and the step are [`Isolate`]'s, shared with `crate::workers`).
#[wasm_bindgen]
pub struct Engine {
    isolate: Isolate,
}

impl std::ops::Deref for Engine {
    type Target = Isolate;
    fn deref(&self) -> &Isolate {
        &self.isolate
    }
}

impl std::ops::DerefMut for Engine {
    fn deref_mut(&mut self) -> &mut Isolate {
        &mut self.isolate
    }
}

fn configure(env: &JsValue) -> Result<Gate, ConfigError> {
    Config::from_lookup(&|key: &str| member_string(env, key)).map(Gate::new)
}

fn engine(gate: Result<Gate, ConfigError>) -> Engine {
    Engine {
        isolate: Isolate::new(gate),
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
        self.isolate.startup_lines()
    }

    /// `JWKS_URL`, when configured.
    #[wasm_bindgen(getter, js_name = jwksUrl)]
    pub fn jwks_url(&self) -> Option<String> {
        self.isolate.jwks_url().map(str::to_owned)
    }

    /// One step of the decision for a request. `header_names`: the inbound header names, one
    /// per line. `answers`: WebCrypto answers so far (`ref=1,ref=0`). `last`: refuse a
    /// signature still undecided instead of asking again.
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
        let inbound = Inbound {
            method,
            url,
            cookie: cookie.as_deref(),
            authorization: authorization.as_deref(),
            accept: accept.as_deref(),
            sec_fetch_mode: sec_fetch_mode.as_deref(),
            sec_fetch_site: sec_fetch_site.as_deref(),
            origin: origin.as_deref(),
            upgrade: upgrade.as_deref(),
            header_names,
            connection: connection.as_deref(),
        };
        let answers = answers.unwrap_or_default();
        let fetched = (keys_fetched, revocations_fetched);
        match self.step(&inbound, started_ms, now_ms, fetched, &answers, last) {
            Stepped::Misconfigured { line } => {
                let reply = Reply::misconfigured();
                let wire = wire::Wire::reply(&reply, None);
                wire::with_log(&wire, Some(&line))
            }
            Stepped::Decided {
                gate,
                outcome,
                request,
            } => wire::outcome_json(gate, &outcome, &request, &nonce),
            Stepped::Keys { unknown_kid } => wire::to_json(&wire::Wire::Keys { unknown_kid }),
            Stepped::Revocations => wire::to_json(&wire::Wire::Revocations),
            Stepped::Signature(q, keys) => wire::question_json(&q, &keys),
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
        self.keys()?.get(reference).map(wire::import_json)
    }

    /// Starts a fetch of the remote JWK Set if the refresh rules allow one now: 0 = no fetch,
    /// 1 = the location's cache first, then the IdP, 2 = the IdP.
    #[wasm_bindgen(js_name = beginKeyFetch)]
    pub fn begin_key_fetch(&mut self, now_ms: f64, unknown_kid: bool) -> u8 {
        match self.isolate.begin_key_fetch(now_ms, unknown_kid) {
            None => 0,
            Some(FetchFrom::CacheThenIdp) => 1,
            Some(FetchFrom::Idp) => 2,
        }
    }

    /// A JWK Set from the location's cache, `remaining_ms` still fresh. `false`: unusable (the
    /// caller goes to the IdP; the fetch is still running).
    #[wasm_bindgen(js_name = keysFromCache)]
    pub fn keys_from_cache(&mut self, body: &str, remaining_ms: f64, now_ms: f64) -> bool {
        self.isolate.keys_from_cache(body, remaining_ms, now_ms)
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
        let (ttl, lines) = self
            .isolate
            .keys_from_idp(body, cache_control.as_deref(), now_ms);
        serde_json::json!({ "ttl": ttl, "lines": lines }).to_string()
    }

    /// The fetch failed (`problem`, without secrets): the keys held keep serving. Returns the
    /// log line.
    #[wasm_bindgen(js_name = keysFailed)]
    pub fn keys_failed(&mut self, problem: &str) -> String {
        self.isolate.keys_failed(problem)
    }

    /// The revocation source, when configured, as JSON: `{"url":…}` or `{"kv":"<key>"}`, with
    /// `"interval_ms"` (`REVOCATION_REFRESH_SECONDS`) and `"cache_ttl"` (seconds a copy fetched
    /// from the source stays in the location's cache: half the interval).
    #[wasm_bindgen(getter)]
    pub fn revocation(&self) -> Option<String> {
        let rc = self.isolate.revocation_config()?;
        let cache_ttl = rc.cache_ttl_seconds();
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
        match self.isolate.begin_revocation_fetch(now_ms) {
            None => 0,
            Some(revocation::FetchFrom::CacheThenSource) => 1,
            Some(revocation::FetchFrom::Source) => 2,
        }
    }

    /// A revocation document (`body`) arrived. Returns a signature question
    /// (`{"step":"signature",…}`: answer it and call again with `answers`), or
    /// `{"ok":true|false,"lines":[log lines]}`; `ok` when the document is authentic, current and
    /// no older than the list held, which it then replaces. `last`: refuse a signature still
    /// undecided.
    #[wasm_bindgen(js_name = revocationDocument)]
    pub fn revocation_document(
        &mut self,
        body: &str,
        now_ms: f64,
        answers: Option<String>,
        last: bool,
    ) -> String {
        let answers = answers.unwrap_or_default();
        match self
            .isolate
            .revocation_document(body, now_ms, &answers, last)
        {
            Offering::Signature(question) => question,
            Offering::Done { line: None } => r#"{"ok":true,"lines":[]}"#.to_owned(),
            Offering::Done { line: Some(line) } => {
                format!(r#"{{"ok":false,"lines":[{}]}}"#, wire::json_string(&line))
            }
        }
    }

    /// The revocation fetch failed (`problem`, without secrets): the list held keeps serving.
    /// Returns the log line.
    #[wasm_bindgen(js_name = revocationFailed)]
    pub fn revocation_failed(&mut self, problem: &str) -> String {
        self.isolate.revocation_failed(problem)
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
            Ok(verified) => format!(
                r#"{{"ok":true,"sub":{},"claims":{}}}"#,
                wire::json_string(&verified.sub),
                wire::json_string(verified.payload_b64)
            ),
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
