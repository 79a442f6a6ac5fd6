//! The real Prometheus server (`prometheus`, installed by `tests/prometheus/setup.sh`) as a child
//! process in a temporary directory, and its HTTP API over a plain `TcpStream`.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `GET path` over HTTP/1.0 (so that the answer is neither chunked nor kept alive): status and
/// body, or `None` if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `prometheus` binary: `$PROMETHEUS_BIN`, else the first on `PATH`. Panics, saying how to
/// install it, when there is none: the test must not pass without the real server.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMETHEUS_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "PROMETHEUS_BIN={} is not a file", p.display());
        return p;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the Prometheus server is not installed (no `prometheus` on PATH, no PROMETHEUS_BIN): \
                 run `bash tests/prometheus/setup.sh` first"
            )
        })
}

/// A Prometheus server on 127.0.0.1, killed when dropped. Its directory (configuration, TSDB,
/// log) is removed then, unless the test is failing.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    /// Its web and API port.
    pub port: u16,
}

impl Prometheus {
    /// Starts the server with `config` (prometheus.yml text) on a free port and waits until it
    /// is ready.
    pub fn start(config: &str) -> Prometheus {
        let bin = binary();
        let dir = std::env::temp_dir().join(super::unique("credence-prometheus"));
        std::fs::create_dir_all(&dir).expect("prometheus dir");
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).expect("prometheus.yml");
        let log = dir.join("prometheus.log");
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut p = Prometheus { child, dir, log, port };
        let ready = super::wait_for(Duration::from_secs(30), || {
            p.assert_running();
            http_get(port, "/-/ready").filter(|r| r.0 == 200)
        });
        assert!(ready.is_some(), "Prometheus not ready in 30 s; log:\n{}", p.logs());
        p
    }

    /// Its log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the server has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited with {status}; log:\n{}", self.logs());
        }
    }

    /// `GET /api/v1/...`: the answer's `data`, or its error (`errorType: error`).
    pub fn api(&self, path: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.port, path).ok_or_else(|| format!("no answer to {path}"))?;
        let v: Value =
            serde_json::from_str(&body).map_err(|e| format!("{path}: HTTP {status}, not JSON ({e}): {body}"))?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!("{}: {}", v["errorType"].as_str().unwrap_or("?"), v["error"].as_str().unwrap_or(&body)))
        }
    }

    /// An instant query at the current time: the result vector (or scalar), or the error.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api(&format!("/api/v1/query?query={}", encode(expr)))?;
        match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => Ok(data["result"].as_array().cloned().unwrap_or_default()),
            _ => Ok(vec![data["result"].clone()]),
        }
    }

    /// The value of a query that yields one sample (NaN if it yields none or several).
    pub fn value(&self, expr: &str) -> f64 {
        match self.query(expr) {
            Ok(r) if r.len() == 1 => r[0]["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
            _ => f64::NAN,
        }
    }

    /// The series matching `selector` over the last hour.
    pub fn series(&self, selector: &str) -> Vec<Value> {
        let start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() - 3600;
        self.api(&format!("/api/v1/series?match[]={}&start={start}", encode(selector)))
            .unwrap_or_else(|e| panic!("series {selector}: {e}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("prometheus log kept in {}", self.log.display());
        }
    }
}
