//! The workerd side of the adapter: environment, isolate state, clock, request facts, logging.
//!
//! Nothing here decides anything; it only turns runtime values into the pure core's inputs.

use crate::config::{Config, ConfigError};
use crate::gate::Gate;
use std::cell::OnceCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};

thread_local! {
    /// The isolate's gate, built on the first request (the environment is only available then)
    /// and reused by every later request of this isolate. A configuration error is cached too:
    /// the environment of an isolate never changes, so the gate fails closed until redeployed.
    static GATE: OnceCell<Result<Rc<Gate>, ConfigError>> = const { OnceCell::new() };
}

/// The isolate's gate, building it from `env` on first use.
pub fn gate(env: &worker::Env) -> Result<Rc<Gate>, ConfigError> {
    GATE.with(|cell| {
        cell.get_or_init(|| {
            let lookup = |key: &str| env_string(env, key);
            let built = Config::from_lookup(&lookup);
            match &built {
                Ok(cfg) => cfg
                    .warnings
                    .iter()
                    .for_each(|w| log(&crate::log::warning_line(w))),
                Err(e) => log(&crate::log::config_error_line(e)),
            }
            built.map(|cfg| Rc::new(Gate::new(cfg)))
        })
        .clone()
    })
}

/// A variable or secret as text. `[vars]` may hold TOML numbers, booleans or tables, which
/// reach the worker as JS numbers, booleans or objects; they are read as their text / JSON form.
fn env_string(env: &worker::Env, key: &str) -> Option<String> {
    member_string(env.as_ref(), key)
}

/// Member `key` of a JS object as text (the rules of [`env_string`]).
pub fn member_string(object: &JsValue, key: &str) -> Option<String> {
    let v = js_sys::Reflect::get(object, &JsValue::from_str(key)).ok()?;
    if v.is_undefined() || v.is_null() {
        return None;
    }
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(n) = v.as_f64() {
        // Whole numbers as integers; others fall through to JS's own number formatting below
        // (keeps Rust's float formatter out of the module).
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            return Some(format!("{}", n as i64));
        }
    }
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string())
}

/// Milliseconds since the epoch (the runtime clock; coarse inside a request by design).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Whole seconds since the epoch.
pub fn now_secs() -> i64 {
    (now_ms() / 1000.0).floor() as i64
}

/// Microseconds since `started_ms` (0 when the runtime clock did not advance).
pub fn elapsed_us(started_ms: f64) -> u64 {
    ((now_ms() - started_ms).max(0.0) * 1000.0) as u64
}

/// Writes one line to the worker's log (`console.log`).
pub fn log(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}

/// 16 fresh random bytes from the runtime's `crypto.getRandomValues` (called directly: getrandom's
/// JS backend would add its Node.js detection to the module).
pub fn nonce() -> [u8; 16] {
    let mut b = [0u8; 16];
    // workerd always has `crypto`; should the call fail, a zero nonce still leaves the assertion
    // bound to method, path and time.
    if let Ok(crypto) = global().crypto() {
        let _ = crypto.get_random_values_with_u8_array(&mut b);
    }
    b
}

/// The path and query of the request URL, as the runtime parsed it.
pub struct RequestUrl {
    origin: String,
    path: String,
    query: Option<String>,
}

impl RequestUrl {
    /// Splits an absolute URL. An unparsable URL yields an empty path, which the gate refuses.
    pub fn parse(raw: &str) -> RequestUrl {
        // The runtime's URL is already serialised: split it (no URL parser in the module). A
        // shape the runtime does not produce yields an empty path, which the gate refuses.
        match crate::path::split_request_url(raw) {
            Some((origin, path, query)) => RequestUrl {
                origin: origin.to_owned(),
                path: path.to_owned(),
                query: query.map(str::to_owned),
            },
            None => RequestUrl {
                origin: String::new(),
                path: String::new(),
                query: None,
            },
        }
    }

    /// The path, percent-encoding preserved.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// `scheme://host[:port]` of the request.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// The request headers the decision reads.
pub struct RequestHeaders {
    /// `Cookie`.
    pub cookie: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `Accept`.
    pub accept: Option<String>,
    /// `Sec-Fetch-Mode`.
    pub sec_fetch_mode: Option<String>,
    /// `Sec-Fetch-Site`.
    pub sec_fetch_site: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Upgrade`.
    pub upgrade: Option<String>,
}

impl RequestHeaders {
    /// Reads them from `req`, skipping those the decision will not look at (each read crosses
    /// from wasm to JS): `Authorization` unless `ACCEPT_BEARER`, and the CSRF guard's
    /// `Upgrade`, `Sec-Fetch-Site` and `Origin` unless the guard is on and can apply.
    pub fn read(req: &web_sys::Request, method: &str, config: &Config) -> RequestHeaders {
        let h = req.headers();
        let get = |name: &str| h.get(name).ok().flatten();
        let state_changing = crate::csrf::is_state_changing(method);
        // A WebSocket handshake is a GET: only a safe method's `Upgrade` can change the verdict.
        let upgrade = (config.csrf.enabled && !state_changing)
            .then(|| get("upgrade"))
            .flatten();
        let csrf = config.csrf.enabled && (state_changing || upgrade.is_some());
        RequestHeaders {
            cookie: get("cookie"),
            authorization: config.accept_bearer.then(|| get("authorization")).flatten(),
            accept: get("accept"),
            sec_fetch_mode: get("sec-fetch-mode"),
            sec_fetch_site: csrf.then(|| get("sec-fetch-site")).flatten(),
            origin: csrf.then(|| get("origin")).flatten(),
            upgrade,
        }
    }
}

/// Casts the global scope for `fetch`.
pub fn global() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}
