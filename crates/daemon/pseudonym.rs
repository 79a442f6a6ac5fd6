//! `credence pseudonym RAW_ID…`: the pseudonym a candidate credential id (an access key id, an
//! API key) has under the configured key, to find which of a principal's keys a finding is about.
//! The same computation as the decoders' (`Pseudonymizer::credential`), so its answer is what
//! findings, the admin API and `state inspect` show.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use credence_event::{KeyHint, Namespace, Pseudonymizer};

/// `credence pseudonym` arguments.
#[derive(Debug, clap::Args)]
pub struct PseudonymArgs {
    /// File holding the pseudonymisation key (else the daemon configuration's, with `--config`;
    /// else CREDENCE_PSEUDONYM_KEY).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The daemon configuration whose `[pseudonym] key_file` to use.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Compute a role session's pseudonym (the subject of an `ASIA…` key: its assumed-role ARN)
    /// instead of a credential's.
    #[arg(long)]
    pub session: bool,
    /// Credential ids; `-` reads them from standard input, one a line (keeps a secret API key out
    /// of the shell's history and the process list).
    #[arg(required = true)]
    pub ids: Vec<String>,
}

/// Prints one line per id: the pseudonym, and for an AWS access key id its hint (`AKIA…WXYZ`),
/// as findings show it. The id itself is never printed.
pub fn run(args: PseudonymArgs) -> anyhow::Result<()> {
    let key_file = match (&args.key_file, &args.config) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(c)) => {
            let config =
                crate::config::layer::load(c).map_err(|p| anyhow::anyhow!("{}: {}", c.display(), p.join("; ")))?;
            config.pseudonym.key_file
        }
        (None, None) => None,
    };
    let pseudonymizer: Pseudonymizer = crate::keys::load(key_file.as_deref())?.context(
        "no pseudonymisation key: give --key-file, --config or CREDENCE_PSEUDONYM_KEY (the daemon's own key: another gives other pseudonyms)",
    )?;
    let ns = if args.session { Namespace::Session } else { Namespace::Credential };
    let mut out = io::stdout().lock();
    let mut one = |raw: &str| -> io::Result<()> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(());
        }
        let p = pseudonymizer.pseudonymize(ns, raw);
        match KeyHint::of_aws_key_id(raw) {
            Some(h) => writeln!(out, "{p}  {h}"),
            None => writeln!(out, "{p}"),
        }
    };
    for id in &args.ids {
        if id == "-" {
            for line in io::stdin().lock().lines() {
                one(&line?)?;
            }
        } else {
            one(id)?;
        }
    }
    Ok(())
}
