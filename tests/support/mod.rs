//! Helpers for the integration tests against the real Kafka broker of `tests/kafka/kafka.sh`:
//! starting it, serialising the tests that use it, topics, reading and writing them, and the
//! real `credence` binary as a child process. Each test binary uses a subset.
#![allow(dead_code)]

pub mod io;
pub mod prometheus;
pub mod receiver;
pub mod stream;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Pseudonymisation key of every test daemon (and of the reference replays).
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Addresses and credentials printed by `kafka.sh env`.
#[derive(Debug, Clone)]
pub struct BrokerEnv {
    /// PLAINTEXT listener.
    pub bootstrap: String,
    /// SASL_PLAINTEXT listener.
    pub sasl_bootstrap: String,
    /// SASL_SSL listener.
    pub sasl_ssl_bootstrap: String,
    /// SCRAM mechanism.
    pub sasl_mechanism: String,
    /// SCRAM user.
    pub sasl_username: String,
    /// SCRAM password.
    pub sasl_password: String,
    /// CA certificate of the TLS listener.
    pub ca_location: String,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/kafka/kafka.sh ARGS`, panicking with its output on failure.
pub fn kafka_sh(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo().join("tests/kafka/kafka.sh"))
        .args(args)
        .output()
        .expect("running tests/kafka/kafka.sh");
    assert!(
        out.status.success(),
        "kafka.sh {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn broker_env() -> &'static BrokerEnv {
    static ENV: OnceLock<BrokerEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        kafka_sh(&["start"]);
        let text = kafka_sh(&["env"]);
        let vars: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.split('#').next().unwrap_or("").trim().trim_matches('"').to_string()))
            .collect();
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("kafka.sh env has no {k}: {text}"));
        BrokerEnv {
            bootstrap: get("CREDENCE_KAFKA_BOOTSTRAP"),
            sasl_bootstrap: get("CREDENCE_KAFKA_SASL_BOOTSTRAP"),
            sasl_ssl_bootstrap: get("CREDENCE_KAFKA_SASL_SSL_BOOTSTRAP"),
            sasl_mechanism: get("CREDENCE_KAFKA_SASL_MECHANISM"),
            sasl_username: get("CREDENCE_KAFKA_SASL_USERNAME"),
            sasl_password: get("CREDENCE_KAFKA_SASL_PASSWORD"),
            ca_location: get("CREDENCE_KAFKA_CA_LOCATION"),
        }
    })
}

/// Exclusive use of the broker: one Kafka test at a time in this process, and across test
/// processes (the outage test stops the broker). Holds the broker's addresses.
#[derive(Debug)]
pub struct Kafka {
    pub env: BrokerEnv,
    _local: MutexGuard<'static, ()>,
    _global: DirLock,
}

/// Takes the broker for one test, starting it if needed.
pub fn kafka() -> Kafka {
    static LOCAL: Mutex<()> = Mutex::new(());
    let local = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    let global = DirLock::acquire(&std::env::temp_dir().join("credence-kafka-tests.lock"));
    // Start (or check) the broker while holding the lock: an outage test may have stopped it.
    kafka_sh(&["start"]);
    Kafka { env: broker_env().clone(), _local: local, _global: global }
}

/// The broker's addresses without taking it: for tests that only need a daemon up beside it (the
/// daemon rides out an outage test stopping the broker meanwhile).
pub fn broker_shared() -> BrokerEnv {
    broker_env().clone()
}

/// A lock between processes: a directory only one can create, holding its owner's pid.
#[derive(Debug)]
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> DirLock {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => {
                    let _ = std::fs::write(path.join("pid"), std::process::id().to_string());
                    return DirLock(path.to_path_buf());
                }
                Err(_) => {
                    // Stale if its owner is gone.
                    let owner = std::fs::read_to_string(path.join("pid")).ok();
                    if let Some(pid) = owner.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                        if !Path::new(&format!("/proc/{pid}")).exists() {
                            let _ = std::fs::remove_dir_all(path);
                            continue;
                        }
                    }
                    assert!(Instant::now() < deadline, "waited too long for {}", path.display());
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The topics and group of one daemon under test.
#[derive(Debug, Clone)]
pub struct TestTopics {
    pub input: String,
    pub lifecycle: String,
    pub alerts: String,
    pub dead_letter: String,
    pub group: String,
}

impl TestTopics {
    /// Creates fresh topics: `partitions` for the input, 2 for the lifecycle, 3 for alerts.
    pub fn create(env: &BrokerEnv, name: &str, partitions: i32) -> TestTopics {
        let base = unique(name);
        let t = TestTopics {
            input: format!("{base}-in"),
            lifecycle: format!("{base}-lifecycle"),
            alerts: format!("{base}-alerts"),
            dead_letter: format!("{base}-dlq"),
            group: format!("{base}-group"),
        };
        io::create_topics(
            &env.bootstrap,
            &[(&t.input, partitions), (&t.lifecycle, 2), (&t.alerts, 3), (&t.dead_letter, 1)],
        );
        t
    }

    /// A daemon configuration for these topics on the PLAINTEXT listener; `extra` is appended
    /// (new tables only).
    pub fn config(&self, env: &BrokerEnv, extra: &str) -> String {
        format!(
            r#"
[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
commit_interval_ms = 500
# Short, so that after an outage longer than it the group is rebuilt quickly (default 45 s).
session_timeout_ms = 10000
startup_timeout_secs = 20

[[inputs]]
topics = ["{input}"]
format = "ocsf"
max_message_bytes = {max}

[lifecycle]
topic = "{lifecycle}"
catch_up_timeout_secs = 20

[alerts]
topic = "{alerts}"

[dead_letter]
topic = "{dlq}"

[daemon]
shutdown_timeout_secs = 10

[log]
format = "json"
level = "info"

[admin]
# A free port: several daemons run at once.
listen_addr = "127.0.0.1:0"

[state]
# Short, so that offsets (committed by checkpoints) follow the daemon closely.
checkpoint_interval_secs = 2
{extra}
"#,
            bootstrap = env.bootstrap,
            group = self.group,
            input = self.input,
            max = stream::MAX_MESSAGE_BYTES,
            lifecycle = self.lifecycle,
            alerts = self.alerts,
            dlq = self.dead_letter,
        )
    }
}

/// The real `credence run`, as a child process. Killed if still running when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    pub started: Instant,
}

impl Daemon {
    /// Starts `credence run` with `config` and extra environment.
    pub fn start(config: &str, env: &[(&str, &str)]) -> Daemon {
        let dir = std::env::temp_dir().join(unique("credence-daemon"));
        std::fs::create_dir_all(&dir).expect("daemon dir");
        let cfg = dir.join("credence.toml");
        std::fs::write(&cfg, config).expect("config");
        let log = dir.join("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credence"));
        cmd.arg("run")
            .arg("--config")
            .arg(&cfg)
            .env_remove("RUST_LOG")
            .env("CREDENCE_PSEUDONYM_KEY", KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting credence run");
        Daemon { child, dir, log, started: Instant::now() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its log lines as JSON objects.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.logs().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The first log line whose message is `message`.
    pub fn log_line(&self, message: &str) -> Option<serde_json::Value> {
        self.log_lines().into_iter().find(|v| v["message"] == message)
    }

    /// The admin server's address, read from its log once it listens: the test configuration asks
    /// for port 0, so the kernel picks a free port and no other daemon or test can take it in
    /// between (a port found free beforehand can be). Panics (with the log) if the daemon exits or
    /// never listens.
    pub fn admin_addr(&mut self) -> String {
        let addr = wait_for(Duration::from_secs(60), || {
            self.assert_running();
            let line = self.log_line("admin server listening: /metrics, /healthz, /readyz")?;
            line["fields"]["addr"].as_str().or(line["addr"].as_str()).map(str::to_string)
        });
        addr.unwrap_or_else(|| panic!("the admin server never listened; log:\n{}", self.logs()))
    }

    /// Panics (with the log) if the daemon has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("credence exited early with {status}; log:\n{}", self.logs());
        }
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().expect("kill");
        assert!(ok.success());
    }

    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Waits for the daemon to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("daemon log kept in {}", self.log.display());
        }
    }
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the group has committed the end of every partition of `topic`, checking that the
/// daemon stays up. Returns how long it took.
pub fn wait_until_consumed(env: &BrokerEnv, daemon: &mut Daemon, topics: &TestTopics, timeout: Duration) -> Duration {
    let start = Instant::now();
    let end = io::end_offsets(&env.bootstrap, &topics.input);
    loop {
        daemon.assert_running();
        let committed = io::committed(&env.bootstrap, &topics.group, &topics.input);
        if end.iter().all(|(p, e)| committed.get(p).copied().unwrap_or(0) >= *e) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "not consumed in {timeout:?}: committed {committed:?}, end {end:?}; log:\n{}",
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Writes lines to a file.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
    f.flush().expect("flush");
}

/// Runs `credence replay` on the files; returns its findings.
pub fn replay(events: &Path, lifecycle: &Path) -> Vec<serde_json::Value> {
    let out_path = events.with_extension("replay.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "ocsf", "--lifecycle"])
        .arg(lifecycle)
        .arg("--out")
        .arg(&out_path)
        .arg(events)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .output()
        .expect("credence replay");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&out_path)
        .expect("replay output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("finding JSON"))
        .collect()
}

/// The body of `GET path` from `addr` (`host:port`), or `None` if the server cannot be reached.
pub fn http_get_text(addr: &str, path: &str) -> Option<String> {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}
