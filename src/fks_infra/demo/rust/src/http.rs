//! One request per connection: enough for health checks and scrapes, and every
//! read is bounded in size and time so a slow client cannot pin a thread forever.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::metrics::{Metrics, CONTENT_TYPE};
use crate::sandbox;

const MAX_HEAD: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Paths outside this set are counted as "other" so scanners cannot grow the metrics.
const KNOWN_PATHS: [&str; 4] = ["/health", "/metrics", "/probe/sandbox", crate::egress::PATH];

pub struct Service {
    name: String,
    port: u16,
    release: String,
    health_fails: bool,
    metrics: Metrics,
}

impl Service {
    pub fn new(
        name: String,
        port: u16,
        release: String,
        health_fails: bool,
        start: Duration,
    ) -> Self {
        let metrics = Metrics::new(name.clone(), release.clone(), start);
        Service {
            name,
            port,
            release,
            health_fails,
            metrics,
        }
    }

    pub fn handle(&self, mut stream: TcpStream, peer: SocketAddr) {
        let started = Instant::now();
        // Accepted sockets may inherit the listener's non-blocking mode on some platforms.
        if stream.set_nonblocking(false).is_err()
            || stream.set_read_timeout(Some(READ_TIMEOUT)).is_err()
        {
            return;
        }
        let Some((method, path)) = read_request_line(&mut stream) else {
            let _ = respond(
                &mut stream,
                400,
                "text/plain; charset=utf-8",
                b"bad request\n",
            );
            return;
        };
        let (status, content_type, body) = self.route(&method, &path);
        let label = if KNOWN_PATHS.contains(&path.as_str()) {
            path.as_str()
        } else {
            "other"
        };
        self.metrics.count(&method, label, status);
        let body = if method == "HEAD" { Vec::new() } else { body };
        let _ = respond(&mut stream, status, content_type, &body);
        log(&format!(
            "fks_{} {} \"{} {}\" {} {:.1}ms",
            self.name,
            peer.ip(),
            method,
            path,
            status,
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }

    fn route(&self, method: &str, path: &str) -> (u16, &'static str, Vec<u8>) {
        if method != "GET" && method != "HEAD" {
            return (
                405,
                "text/plain; charset=utf-8",
                b"method not allowed\n".to_vec(),
            );
        }
        match path {
            "/health" => {
                let (status, word) = if self.health_fails {
                    (503, "failing")
                } else {
                    (200, "ok")
                };
                let body = format!(
                    "{{\"service\": {}, \"port\": {}, \"status\": \"{}\", \"release\": {}}}",
                    json_string(&self.name),
                    self.port,
                    word,
                    json_string(&self.release)
                );
                (status, "application/json", body.into_bytes())
            }
            "/metrics" => (200, CONTENT_TYPE, self.metrics.render().into_bytes()),
            "/probe/sandbox" => (200, "application/json", sandbox::report().into_bytes()),
            crate::egress::PATH => crate::egress::answer(&self.name),
            _ => (404, "text/plain; charset=utf-8", b"not found\n".to_vec()),
        }
    }
}

/// Read the request head and return its method and path (query string dropped).
fn read_request_line(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 || head.len() + read > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    Some((method, path))
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// A JSON string literal; service names and release ids are plain, but escape anyway.
pub fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line to stdout with a UTC timestamp; println! flushes on newline via the stdout lock.
pub fn log(line: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, secs) = (now / 86_400, now % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    println!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000 {line}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
