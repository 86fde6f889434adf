//! `GET /probe/egress`: whether this service reaches the outside endpoint its unit names.
//!
//! The target is `FKS_DEMO_EGRESS_URL` (`http://ADDRESS:PORT/`: an IP address, no name to
//! resolve, an explicit port). The probe connects over TCP and sends one `GET`
//! (`User-Agent: fks_<service>`), all within `TIMEOUT`; the answer is JSON
//! `{"url", "reached", "error"}`: 200 with `reached` true when an HTTP status line came
//! back, 200 with `reached` false and the error when the connection or request failed
//! (a unit's `IPAddressDeny=`), 404 when the variable is not set, 500 when it is no
//! `http://ADDRESS:PORT/` URL. The same contract as the Python stand-in's `fks_demo.egress`.

use std::env;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const PATH: &str = "/probe/egress";
const VARIABLE: &str = "FKS_DEMO_EGRESS_URL";
/// The whole probe (connect, send, first line of the answer) ends within this.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The probe's HTTP answer: (status, content type, JSON body).
pub fn answer(service: &str) -> (u16, &'static str, Vec<u8>) {
    let url = env::var(VARIABLE).unwrap_or_default();
    let url = url.trim();
    if url.is_empty() {
        return json(404, None, false, &format!("{VARIABLE} not set"));
    }
    let Some((address, path)) = target(url) else {
        let error = format!("{VARIABLE} is not http://ADDRESS:PORT/ (an IP address and a port)");
        return json(500, Some(url), false, &error);
    };
    match get(address, path, service) {
        Ok(()) => json(200, Some(url), true, ""),
        Err(error) => json(200, Some(url), false, &error),
    }
}

/// The socket address and path of an `http://ADDRESS:PORT/` URL (IPv6 in brackets).
fn target(url: &str) -> Option<(SocketAddr, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    Some((authority.parse().ok()?, path))
}

/// Connect, send one GET and read the status line, each step within what is left of
/// `TIMEOUT`.
fn get(address: SocketAddr, path: &str, service: &str) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| format!("no answer within {} s", TIMEOUT.as_secs()))
    };
    let mut stream = TcpStream::connect_timeout(&address, left()?).map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: fks_{service}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 256];
    while !answer.contains(&b'\n') {
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no answer within {} s", TIMEOUT.as_secs()))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    if answer.starts_with(b"HTTP/1.") {
        Ok(())
    } else {
        Err("the endpoint answered no HTTP status line".to_string())
    }
}

fn json(
    status: u16,
    url: Option<&str>,
    reached: bool,
    error: &str,
) -> (u16, &'static str, Vec<u8>) {
    let url = url.map_or_else(|| "null".to_string(), crate::http::json_string);
    let body = format!(
        "{{\"url\": {url}, \"reached\": {reached}, \"error\": {}}}",
        crate::http::json_string(error)
    );
    (status, "application/json", body.into_bytes())
}
