//! `credence replay` on real CloudTrail files as CloudTrail delivers them: the Stratus Red Team
//! detonations of `../shared/data/stratus-detonation-logs` (Apache-2.0, see that folder's README),
//! plain and gzip-compressed (CloudTrail writes `.json.gz` objects to S3), through the real binary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stratus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/stratus-detonation-logs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing real attack data at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "{} detonation files", files.len());
    files
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

fn replay(files: &[PathBuf], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "cloudtrail", "--out"])
        .arg(out)
        .args(files)
        .env("CREDENCE_PSEUDONYM_KEY", "replay-files-test-key-0123456789abcdef")
        .output()
        .expect("credence replay runs")
}

/// The `events N` of the summary.
fn events(out: &Output) -> u64 {
    let text = String::from_utf8_lossy(&out.stderr);
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).find(|w| w[0] == "events").and_then(|w| w[1].parse().ok()).unwrap_or_else(|| panic!("{text}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-replay-files-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn compressed_files_replay_exactly_as_the_plain_ones() {
    let plain = stratus_files();
    let dir = scratch("gz");
    let records: usize = plain
        .iter()
        .map(|p| serde_json::from_slice::<Vec<serde_json::Value>>(&std::fs::read(p).unwrap()).unwrap().len())
        .sum();
    let compressed: Vec<PathBuf> = plain
        .iter()
        .map(|p| {
            let gz = dir.join(format!("{}.gz", p.file_name().unwrap().to_string_lossy()));
            std::fs::write(&gz, gzip(&std::fs::read(p).unwrap())).unwrap();
            gz
        })
        .collect();
    let a = replay(&plain, &dir.join("plain.jsonl"));
    let b = replay(&compressed, &dir.join("gz.jsonl"));
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(events(&a), records as u64, "every record of the plain files is an event");
    assert_eq!(events(&b), records as u64, "and of the compressed ones");
    let findings_a = std::fs::read_to_string(dir.join("plain.jsonl")).unwrap();
    let findings_b = std::fs::read_to_string(dir.join("gz.jsonl")).unwrap();
    assert!(!findings_a.is_empty(), "the detonations raise findings");
    assert_eq!(findings_a, findings_b, "the same findings, byte for byte");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_damaged_file_is_reported_and_the_others_are_replayed() {
    let plain = stratus_files();
    let dir = scratch("damaged");
    let z = gzip(&std::fs::read(&plain[0]).unwrap());
    let truncated = dir.join("truncated.json.gz");
    std::fs::write(&truncated, &z[..z.len() / 2]).unwrap();
    let whole: usize =
        serde_json::from_slice::<Vec<serde_json::Value>>(&std::fs::read(&plain[1]).unwrap()).unwrap().len();
    let out = replay(&[truncated.clone(), plain[1].clone()], &dir.join("out.jsonl"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a damaged input fails the run: {err}");
    assert!(err.contains(&format!("error: {}", truncated.display())), "the error names the file: {err}");
    assert!(err.contains("1 of 2 input files could not be read"), "{err}");
    assert_eq!(events(&out), whole as u64, "the intact file is replayed whole");
    std::fs::remove_dir_all(dir).ok();
}
