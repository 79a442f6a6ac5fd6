//! What `/proc` says about a process: CPU seconds and resident memory.

use std::sync::OnceLock;

use anyhow::Context as _;

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn ticks_per_sec() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{p}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// User + system CPU seconds of a process (`None`: this one), all its threads.
pub fn cpu_secs(pid: Option<u32>) -> anyhow::Result<f64> {
    stat_cpu(&path(pid, "stat"))
}

/// utime + stime of a `stat` file, seconds.
fn stat_cpu(p: &str) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces; utime and
    // stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let rest = text.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = f.get(11).and_then(|v| v.parse().ok()).context("utime")?;
    let sys: f64 = f.get(12).and_then(|v| v.parse().ok()).context("stime")?;
    Ok((user + sys) / ticks_per_sec())
}

/// A `Vm*` line of `/proc/PID/status`, bytes.
fn status_bytes(pid: Option<u32>, key: &str) -> anyhow::Result<u64> {
    let p = path(pid, "status");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))?;
    let line = text.lines().find(|l| l.starts_with(key)).with_context(|| format!("{key} in {p}"))?;
    let kb: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().with_context(|| line.to_string())?;
    Ok(kb * 1024)
}

/// Resident memory now, bytes.
pub fn rss(pid: Option<u32>) -> anyhow::Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// Peak resident memory, bytes.
pub fn peak_rss(pid: Option<u32>) -> anyhow::Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// CPU seconds of each live thread of a process, summed by thread name (`comm`).
pub fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let mut by_name: Vec<(String, f64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
    for t in tasks.flatten() {
        let dir = t.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default().trim().to_string();
        let Ok(secs) = stat_cpu(&dir.join("stat").to_string_lossy()) else { continue };
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 += secs,
            None => by_name.push((name, secs)),
        }
    }
    by_name
}
