//! `edgegate-origin`: reference origin server and JWT minting tool.
//!
//! Run `edgegate-origin --help` for usage.

use std::io::Write as _;
use std::process::ExitCode;

use edgegate_origin::cli::{self, Command, MintArgs, ServeArgs, SECRET_ENV, USAGE};
use edgegate_origin::{mint, serve_with_shutdown, shutdown_signal, AppState};

fn main() -> ExitCode {
    match cli::parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(args)) => run_serve(args),
        Ok(Command::Mint(args)) => run_mint(&args),
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

fn run_serve(args: ServeArgs) -> ExitCode {
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
        {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "edgegate-origin listening on http://{local}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
        }
        match serve_with_shutdown(listener, AppState::new(), shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("edgegate-origin: server error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
