//! `credence check-config` and `credence run` on configurations, through the real binary (no
//! broker needed): exit code 64 and every problem listed at once, environment overrides, and the
//! shipped example.

use std::path::PathBuf;
use std::process::{Command, Output};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn credence(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credence"));
    cmd.args(args).env_remove("CREDENCE_PSEUDONYM_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running credence")
}

/// Writes a configuration file into a directory of its own; remove it with [`remove`].
fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn remove(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("credence.example.toml").display().to_string()
}

#[test]
fn the_shipped_example_checks_out() {
    let out = credence(&["check-config", &example()], &[("CREDENCE_PSEUDONYM_KEY", KEY)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("OK (2 input(s), 2 topic(s)"), "{said}");
}

/// Issue 21's first steps, as the README's Install section gives them: a key from
/// `openssl rand -hex 32`, in `CREDENCE_PSEUDONYM_KEY` or named by `[pseudonym] key_file`, and the
/// shipped example passes `check-config`; without a key it is refused, saying how to make one.
#[test]
fn the_example_checks_out_after_the_readme_key_step() {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    for step in [
        "openssl rand -hex 32 > key.hex",
        "export CREDENCE_PSEUDONYM_KEY=$(cat key.hex)",
        "cargo install --locked --path .",
    ] {
        assert!(readme.contains(step), "the README no longer says `{step}`");
    }
    let openssl = Command::new("openssl").args(["rand", "-hex", "32"]).output().expect("openssl");
    assert!(openssl.status.success());
    let key = String::from_utf8(openssl.stdout).expect("hex");
    let path = write("key.hex", &key);
    let key_file = path.display().to_string();

    let without = credence(&["check-config", &example()], &[]);
    assert_eq!(without.status.code(), Some(64));
    let said = String::from_utf8_lossy(&without.stderr);
    assert!(said.contains("openssl rand -hex 32"), "the error says how to make a key: {said}");

    let by_env = credence(&["check-config", &example()], &[("CREDENCE_PSEUDONYM_KEY", key.trim())]);
    assert!(by_env.status.success(), "{}", String::from_utf8_lossy(&by_env.stderr));
    let by_file = credence(&["check-config", &example()], &[("CREDENCE_PSEUDONYM__KEY_FILE", key_file.as_str())]);
    assert!(by_file.status.success(), "{}", String::from_utf8_lossy(&by_file.stderr));
    remove(&path);
}

#[test]
fn bad_configuration_exits_64_listing_every_problem() {
    let path = write(
        "bad.toml",
        r#"
[kafka]
bootstrap_servers = ""
[kafka.librdkafka]
"enable.idempotence" = false
"no.such.option" = "1"
[[inputs]]
topics = []
[daemon]
shutdown_timeout_secs = 0
[state]
checkpoint_interval_secs = 0
initial_snapshot = "/nonexistent/credence-state"
"#,
    );
    let p = path.display().to_string();
    for args in [vec!["check-config", p.as_str()], vec!["run", "--config", p.as_str()]] {
        let out = credence(&args, &[]);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for needle in [
            "kafka.bootstrap_servers is required",
            "\"enable.idempotence\" is managed by credence",
            "\"no.such.option\"",
            "inputs[0].topics must name at least one topic",
            "alerts: set alerts.topic, alerts.file, or both",
            "daemon.shutdown_timeout_secs must be positive",
            "state.checkpoint_interval_secs must be in 1..=86400",
            "state.initial_snapshot: no snapshot at /nonexistent/credence-state",
            "no pseudonymisation key",
        ] {
            assert!(err.contains(needle), "{args:?}: missing `{needle}` in:\n{err}");
        }
    }
    remove(&path);
}

#[test]
fn unknown_settings_and_bad_overrides_exit_64() {
    let path = write("typo.toml", "[kafka]\nbootstrap_server = \"x:1\"\n");
    let out = credence(
        &["check-config", &path.display().to_string()],
        &[("CREDENCE_PSEUDONYM_KEY", KEY), ("CREDENCE_DAEMON__MAX_IN_FLIGHT", "many")],
    );
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown setting `kafka.bootstrap_server`"), "{err}");
    assert!(err.contains("CREDENCE_DAEMON__MAX_IN_FLIGHT"), "{err}");
    // A file that does not exist, or is not TOML, is a configuration error too.
    let out = credence(&["check-config", "/nonexistent/credence.toml"], &[]);
    assert_eq!(out.status.code(), Some(64));
    let notoml = write("notoml.toml", "[kafka\n");
    let out = credence(&["check-config", &notoml.display().to_string()], &[]);
    assert_eq!(out.status.code(), Some(64));
    remove(&path);
    remove(&notoml);
}

#[test]
fn environment_overrides_can_fix_or_break_a_file() {
    // The example with its topic list emptied by the environment: refused.
    let out = credence(
        &["check-config", &example()],
        &[("CREDENCE_PSEUDONYM_KEY", KEY), ("CREDENCE_INPUTS__0__TOPICS", "[]")],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inputs[0].topics must name at least one topic"));
    // A file missing its brokers, completed by the environment: accepted.
    let path = write("partial.toml", "[[inputs]]\ntopics = [\"in\"]\n[alerts]\nfile = \"-\"\n");
    let out = credence(
        &["check-config", &path.display().to_string()],
        &[("CREDENCE_PSEUDONYM_KEY", KEY), ("CREDENCE_KAFKA__BOOTSTRAP_SERVERS", "broker:9092")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    remove(&path);
}
