//! `edgegate-origin`: reference origin server and JWT minting tool.
//!
//! Run `edgegate-origin --help` for usage.

use std::io::Write as _;
use std::process::ExitCode;

use std::sync::Arc;

use edgegate_origin::cli::{self, Command, MintArgs, ServeArgs, SECRET_ENV, USAGE};
use edgegate_origin::reference::config::Config;
use edgegate_origin::reference::{self, Reference};
use edgegate_origin::{mint, router, serve_router_with_shutdown, shutdown_signal, AppState};

fn main() -> ExitCode {
    match cli::parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(args)) => run_serve(args),
        Ok(Command::Mint(args)) => run_mint(&args),
        Ok(Command::HashPassword) => run_hash_password(),
        Err(e) => {
            eprintln!("edgegate-origin: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run_mint(args: &MintArgs) -> ExitCode {
    let secret = match args.resolve_secret(std::env::var(SECRET_ENV).ok()) {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!("edgegate-origin: {e}");
            return ExitCode::from(2);
        }
    };
    match mint::mint(secret.as_bytes(), &args.options) {
        Ok(token) => {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{token}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edgegate-origin: mint: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("edgegate-origin: hash-password: cannot read stdin");
        return ExitCode::from(2);
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("edgegate-origin: hash-password: empty password");
        return ExitCode::from(2);
    }
    match reference::users::hash_password(password) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edgegate-origin: hash-password: {e}");
            ExitCode::from(2)
        }
    }
}

/// Resolves and opens the reference origin (before binding, so errors come first).
fn open_reference(args: &ServeArgs) -> Result<Option<Reference>, String> {
    if !args.reference.enabled() {
        return Ok(None);
    }
    let cfg = Config::resolve(
        &args.reference,
        |key| std::env::var(key).ok(),
        |path| std::fs::read_to_string(path),
    )
    .map_err(|e| e.0)?;
    Reference::open(cfg).map(Some).map_err(|e| e.0)
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let mut reference = match open_reference(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("edgegate-origin: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edgegate-origin: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("edgegate-origin: cannot bind {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let local = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => {
                eprintln!("edgegate-origin: cannot read the bound address: {e}");
                return ExitCode::FAILURE;
            }
        };
        let app = match reference.take() {
            None => router(AppState::new()),
            Some(mut r) => {
                r.allow_own_address(local);
                let cfg = r.config();
                reference::log_event(
                    "start",
                    serde_json::json!({
                        "alg": cfg.alg.name(),
                        "kid": r.keys().kid(),
                        "data_dir": cfg.data_dir.display().to_string(),
                        "access_ttl": cfg.access_ttl,
                        "refresh_ttl": cfg.refresh_ttl,
                        "refresh_grace": cfg.refresh_grace,
                        "users": r.user_names(),
                        "allowed_origins": r.allowed_origins(),
                        "secure_cookies": cfg.secure_cookies,
                        "assertion_audience": r.assertion_audience(),
                        "test_routes": cfg.test_routes,
                    }),
                );
                let diagnostics = cfg.test_routes.then(AppState::new);
                reference::router(Arc::new(r), diagnostics)
            }
        };
        {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "edgegate-origin listening on http://{local}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
        }
        match serve_router_with_shutdown(listener, app, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("edgegate-origin: server error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
