//! Prometheus text exposition (format 0.0.4), written by hand to stay std-only.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub struct Metrics {
    service: String,
    release: String,
    start: Duration,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    pub fn new(service: String, release: String, start: Duration) -> Self {
        Metrics {
            service,
            release,
            start,
            requests: Mutex::new(BTreeMap::new()),
        }
    }

    /// Count one request; `path` must already be a bounded label value.
    pub fn count(&self, method: &str, path: &str, status: u16) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *requests
            .entry((method.to_string(), path.to_string(), status))
            .or_insert(0) += 1;
    }

    pub fn render(&self) -> String {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP fks_http_requests_total HTTP requests handled, by method, path and status.\n",
        );
        out.push_str("# TYPE fks_http_requests_total counter\n");
        for ((method, path, status), value) in requests.iter() {
            out.push_str(&format!(
                "fks_http_requests_total{{method=\"{}\",path=\"{}\",status=\"{}\"}} {}\n",
                escape_label(method),
                escape_label(path),
                status,
                value
            ));
        }
        out.push_str(
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n",
        );
        out.push_str("# TYPE process_start_time_seconds gauge\n");
        out.push_str(&format!(
            "process_start_time_seconds {:.3}\n",
            self.start.as_secs_f64()
        ));
        out.push_str("# HELP fks_service_info Which service and release this process is.\n");
        out.push_str("# TYPE fks_service_info gauge\n");
        out.push_str(&format!(
            "fks_service_info{{service=\"{}\",release=\"{}\"}} 1\n",
            escape_label(&self.service),
            escape_label(&self.release)
        ));
        out
    }
}

/// Escape a label value as the exposition format requires (\, " and newline).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
