//! Progress bars of `replay` and `demo` on standard error: how far, events per second, time left.
//! Drawn only on a terminal (indicatif hides them otherwise), so piped output and tests see
//! nothing of them.

use std::cell::Cell;
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// Events between two updates of the rate: often enough to move smoothly, rarely enough to cost
/// nothing (one division and a string every 4,096 events).
const EVERY: u64 = 4096;

/// A progress bar counting events beside a position it knows the end of (bytes of the input
/// files, minutes of simulated time).
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    events: Cell<u64>,
}

impl Progress {
    fn new(bar: ProgressBar, template: &str) -> Progress {
        let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        Progress { bar, started: Instant::now(), events: Cell::new(0) }
    }

    /// For reading `files` (their total size, when they are regular files; `-` is stdin).
    pub fn files(files: &[PathBuf]) -> Progress {
        let sizes: Option<u64> = files
            .iter()
            .map(|p| if p.as_os_str() == "-" { None } else { std::fs::metadata(p).ok().map(|m| m.len()) })
            .sum();
        match sizes {
            Some(total) => Progress::new(
                ProgressBar::new(total),
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} · {msg} · ETA {eta}",
            ),
            None => Progress::new(ProgressBar::new_spinner(), "{spinner} [{elapsed_precise}] {bytes} · {msg}"),
        }
    }

    /// For a simulation of `minutes` simulated minutes.
    pub fn simulated(minutes: u64) -> Progress {
        Progress::new(ProgressBar::new(minutes), "{spinner} [{elapsed_precise}] {bar:30} {msg} · ETA {eta}")
    }

    /// `r`, counting the bytes read from it as progress.
    pub fn wrap<R: Read>(&self, r: R) -> impl Read {
        self.bar.wrap_read(r)
    }

    /// One more event; `position` (for [`Progress::simulated`]: the simulated minute) and `label`
    /// are read every few thousand events only.
    pub fn event(&self, position: impl FnOnce() -> Option<(u64, String)>) {
        let events = self.events.get() + 1;
        self.events.set(events);
        if events % EVERY != 0 {
            return;
        }
        let rate = events as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let mut msg = format!("{} events, {}/s", human(events as f64), human(rate));
        if let Some((pos, label)) = position() {
            self.bar.set_position(pos);
            msg = format!("{label} · {msg}");
        }
        self.bar.set_message(msg);
    }

    /// Runs `f` (which writes to the terminal) with the bar out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        self.bar.suspend(f)
    }

    /// Clears the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// `1234567` as `1.2M`.
fn human(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.1}G", n / 1e9),
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_bytes_and_events() {
        let p = Progress::files(&[]);
        let mut r = p.wrap(&b"abcdef"[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).expect("read");
        assert_eq!(p.bar.position(), 6);
        for _ in 0..EVERY {
            p.event(|| None);
        }
        assert!(p.bar.message().starts_with("4.1k events, "), "{}", p.bar.message());
        assert_eq!(human(1_234_567.0), "1.2M");
        assert_eq!(human(999.0), "999");
    }
}
