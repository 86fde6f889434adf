//! Stand-in for an FKS Rust service: a small HTTP/1.1 server on the standard library.
//!
//! The same binary serves every Rust service; it is installed as `fks_<name>` and
//! reads its service name from that file name (argv[0]). Configuration comes from
//! the unit's environment: `SERVICE_PORT` (required), `SERVICE_HOST` (bind address,
//! default 127.0.0.1) and `FKS_RELEASE_ID`.

mod egress;
mod http;
mod metrics;
mod sandbox;

use std::env;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Service;

/// Fault baked in at build time by fks-infra (`FKS_DEMO_BEHAVIOUR`): a broken
/// release is a different artifact, not a setting the unit passes.
const BEHAVIOUR: Option<&str> = option_env!("FKS_DEMO_BEHAVIOUR");

/// How long the accept loop sleeps when idle; bounds the reaction time to SIGTERM.
const IDLE_POLL: Duration = Duration::from_millis(50);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" {
    // libc is linked by std on Linux anyway; declaring signal(2) here keeps the
    // crate free of external dependencies so it builds with --offline.
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

extern "C" fn request_stop(_signum: i32) {
    // Only an atomic store: the one thing that is safe inside a signal handler.
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let argv0 = env::args().next().unwrap_or_default();
    let service = service_name(&argv0)?;
    let port = service_port(&service)?;
    let host = env::var("SERVICE_HOST").unwrap_or_else(|_| "127.0.0.1".to_string());
    let release = env::var("FKS_RELEASE_ID")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let health_fails = match BEHAVIOUR {
        None | Some("") => false,
        Some("health=fail") => true,
        Some("crash") => false,
        Some(other) => {
            return Err(format!(
                "fks_{service}: unknown baked-in behaviour {other:?}"
            ))
        }
    };

    let listener = TcpListener::bind((host.as_str(), port))
        .map_err(|err| format!("fks_{service}: cannot listen on {host}:{port}: {err}"))?;
    if BEHAVIOUR == Some("crash") {
        return Err(format!(
            "fks_{service}: release {release} built to crash on start"
        ));
    }
    listener
        .set_nonblocking(true)
        .map_err(|err| format!("fks_{service}: cannot configure listener: {err}"))?;
    unsafe {
        signal(SIGTERM, request_stop);
        signal(SIGINT, request_stop);
    }

    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let state = Arc::new(Service::new(
        service.clone(),
        port,
        release.clone(),
        health_fails,
        start,
    ));
    http::log(&format!(
        "fks_{service} release={release} port={port} started on {host}"
    ));

    while !STOP.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let state = Arc::clone(&state);
                thread::spawn(move || state.handle(stream, peer));
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(IDLE_POLL),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => http::log(&format!("fks_{service} accept failed: {err}")),
        }
    }
    http::log(&format!("fks_{service} shutting down"));
    Ok(())
}

/// The service name is the binary's file name without its `fks_` prefix.
fn service_name(argv0: &str) -> Result<String, String> {
    let file = Path::new(argv0)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    match file.strip_prefix("fks_") {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(format!(
            "{argv0:?}: install this binary as fks_<service>; the service name comes from it"
        )),
    }
}

/// SERVICE_PORT is required: the services' own defaults disagree with the port table.
fn service_port(service: &str) -> Result<u16, String> {
    let raw = env::var("SERVICE_PORT").unwrap_or_default();
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(format!(
            "fks_{service}: SERVICE_PORT is not set; refusing to start \
             (set it explicitly to the port of the service table)"
        ));
    }
    match raw.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "fks_{service}: SERVICE_PORT={raw:?} is not a TCP port (1-65535)"
        )),
    }
}
