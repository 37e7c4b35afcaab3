//! A workers-rs app behind edgegate. The gate decides every request exactly as the standalone
//! gate does; a request it would forward reaches `app` with the verified identity, and the
//! app's response gets the gate's `Cache-Control: private` (and `Server-Timing`) rules.
//!
//! The app answers with what it received (method, URL, headers, body, identity) so the tests in
//! `tests/worker/workers-rs.test.mjs` can see what the gate handed it, and `/__cookies` sets
//! three cookies. Both forms of the crate API are shown: the two halves (`Gate::admit_with`, then
//! `release`) and the closure form (`guard`, chosen here with `EXAMPLE_FORM = "guard"`); an app
//! uses one of them. `EXAMPLE_FORM = "no-context"` uses `Gate::admit`, which takes no `Context`
//! (a due revocation list refresh then runs before it returns), so the tests cover it too.

use edgegate::workers::{Admission, Gate, Identity};
use serde::{Deserialize, Serialize};
use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let form = env.var("EXAMPLE_FORM").map(|v| v.to_string()).ok();
    if form.as_deref() == Some("guard") {
        return edgegate::workers::guard(req, &env, &ctx, |req, identity| app(req, identity, &env))
            .await;
    }
    let gate = Gate::for_env(&env);
    // `ctx`: a revocation list refresh due after the decision runs in the background.
    let admission = if form.as_deref() == Some("no-context") {
        gate.admit(req).await
    } else {
        gate.admit_with(req, &ctx).await
    };
    match admission {
        // Decided at the edge: a refresh or login redirect, a typed 401/403, misconfigured, …
        Admission::Answered(resp) => Ok(resp),
        Admission::Admitted(admitted) => {
            let (req, identity, release) = admitted.into_parts();
            let resp = app(req, identity, &env).await?;
            Ok(release.response(resp))
        }
    }
}

/// The claims this app reads, typed.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    role: Option<String>,
}

#[derive(Serialize)]
struct Seen {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    identity: Option<IdentityView>,
    role: Option<String>,
    #[serde(rename = "envBinding")]
    env_binding: Option<String>,
}

#[derive(Serialize)]
struct IdentityView {
    sub: String,
    claims: serde_json::Map<String, serde_json::Value>,
}

async fn app(mut req: Request, identity: Option<Identity>, env: &Env) -> Result<Response> {
    if req.path() == "/__cookies" {
        let headers = Headers::new();
        headers.set("content-type", "text/plain")?;
        headers.set("cache-control", "public, max-age=60")?;
        headers.append("set-cookie", "a=1; Path=/")?;
        headers.append("set-cookie", "b=2; Path=/; HttpOnly")?;
        headers.append(
            "set-cookie",
            "c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure",
        )?;
        return Ok(Response::ok("cookies set")?.with_headers(headers));
    }
    let role = match &identity {
        Some(id) => id.claims_as::<Claims>()?.role,
        None => None,
    };
    // The real method (`Request::method()` reads unknown ones as GET).
    let method = req.inner().method();
    let body = match method.as_str() {
        "GET" | "HEAD" => None,
        _ => Some(req.text().await?),
    };
    Response::from_json(&Seen {
        method,
        url: req.url()?.to_string(),
        headers: req.headers().entries().collect(),
        body,
        identity: identity.map(|id| IdentityView {
            sub: id.sub,
            claims: id.claims,
        }),
        role,
        env_binding: env.var("APP_NAME").ok().map(|v| v.to_string()),
    })
}
