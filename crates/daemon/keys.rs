//! The pseudonymisation secret: loaded once, never logged.

use std::path::Path;

use anyhow::{bail, Context as _};
use credence_event::{Pseudonymizer, MIN_KEY_BYTES};

/// Environment variable holding the key (hex, or raw text of at least 32 bytes).
pub const KEY_ENV: &str = "CREDENCE_PSEUDONYM_KEY";

/// Loads the key from a file (first line: 64+ hex digits, or raw text of at least 32 bytes), else
/// from `CREDENCE_PSEUDONYM_KEY`. `None` when neither is set.
pub fn load(file: Option<&Path>) -> anyhow::Result<Option<Pseudonymizer>> {
    let raw = match file {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading pseudonymisation key file {}", p.display()))?
        }
        None => match std::env::var(KEY_ENV) {
            Ok(v) => v,
            Err(_) => return Ok(None),
        },
    };
    let text = raw.lines().next().unwrap_or("").trim();
    let bytes = match hex::decode(text) {
        Ok(b) if b.len() >= MIN_KEY_BYTES => b,
        _ => text.as_bytes().to_vec(),
    };
    if bytes.len() < MIN_KEY_BYTES {
        bail!("the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes (or {} hex digits)", MIN_KEY_BYTES * 2);
    }
    Ok(Some(Pseudonymizer::new(&bytes)?))
}
