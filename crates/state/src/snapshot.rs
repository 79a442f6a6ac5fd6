//! Snapshot files: a pipeline's whole state in one file, written record by record (never built as
//! one document in memory), each record framed and checksummed, into a temporary file renamed
//! into place once complete, so a crash mid-write leaves the previous snapshot intact.
//!
//! Layout (integers little-endian):
//! - header: [`MAGIC`] (8 bytes), the framing version (`u16`), the key-space fingerprint (`u64`);
//! - frames: [`SYNC`] (2 bytes), payload length (`u32`), CRC-32 of the length and payload
//!   (`u32`), payload;
//! - a record's payload: key length (`u8`, at least 1), key, value (the record format of the
//!   crate root);
//! - the last frame's payload: a zero key length, then the number of records (`u64`), so a cut
//!   file is told from a complete one.
//!
//! A damaged frame (bad checksum, impossible length) is skipped and counted, and reading resumes
//! at the next frame found; a file cut short is an error.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use credence_finding::parts::PartOwned;
use credence_finding::pipeline::{Pipeline, RestoreError};

use crate::{decode, Part, RecordError};

/// The first bytes of a snapshot file.
pub const MAGIC: &[u8; 8] = b"CRDNSNAP";
/// The framing version (the records inside carry their own).
pub const FRAMING_VERSION: u16 = 1;
/// Marks the start of every frame, so reading can resume after a damaged one.
pub const SYNC: [u8; 2] = [0xC5, 0x5A];
/// The snapshot's file name inside a state directory.
pub const FILE_NAME: &str = "credence.snapshot";
/// Largest frame payload read: a record is about a kilobyte; anything near this is damage.
const MAX_FRAME_BYTES: u32 = 1 << 24;

/// Why a snapshot could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Not a snapshot file.
    #[error("{0}: not a Credence snapshot (it does not start with the snapshot header)")]
    NotASnapshot(PathBuf),
    /// Framed by another version.
    #[error("{path}: snapshot framing version {found}; this build reads version {FRAMING_VERSION}")]
    Framing {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u16,
    },
    /// Learned under another pseudonymisation key.
    #[error("{0}: the snapshot was saved under another pseudonymisation key; its credentials and values match nothing here (use the key it was made with, or move it away to start afresh)")]
    OtherKey(PathBuf),
    /// Cut short: the end frame is missing.
    #[error("{path}: the snapshot is cut short after {records} records (its end marker is missing); move it away to start afresh")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Records read before the end.
        records: u64,
    },
    /// Records of a version this build does not read.
    #[error("{path}: {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The first such record's error.
        source: RecordError,
    },
}

/// Writes a snapshot, frame by frame.
#[derive(Debug)]
pub struct Writer<W: Write> {
    w: W,
    records: u64,
    frame: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the header.
    pub fn new(mut w: W, fingerprint: u64) -> io::Result<Writer<W>> {
        w.write_all(MAGIC)?;
        w.write_all(&FRAMING_VERSION.to_le_bytes())?;
        w.write_all(&fingerprint.to_le_bytes())?;
        Ok(Writer { w, records: 0, frame: Vec::new() })
    }

    /// Writes one record.
    pub fn record(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let key_len = u8::try_from(key.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a state key of 1 to 255 bytes"))?;
        self.frame.clear();
        self.frame.push(key_len);
        self.frame.extend_from_slice(key);
        self.frame.extend_from_slice(value);
        self.write_frame()?;
        self.records += 1;
        Ok(())
    }

    /// Writes the end frame and flushes; returns the writer and the records written.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.frame.clear();
        self.frame.push(0);
        self.frame.extend_from_slice(&self.records.to_le_bytes());
        self.write_frame()?;
        self.w.flush()?;
        Ok((self.w, self.records))
    }

    fn write_frame(&mut self) -> io::Result<()> {
        let len = u32::try_from(self.frame.len())
            .ok()
            .filter(|&n| n <= MAX_FRAME_BYTES)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a state record too large to frame"))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len.to_le_bytes());
        crc.update(&self.frame);
        self.w.write_all(&SYNC)?;
        self.w.write_all(&len.to_le_bytes())?;
        self.w.write_all(&crc.finalize().to_le_bytes())?;
        self.w.write_all(&self.frame)
    }
}

/// A record's key and value bytes.
pub type RawRecord = (Vec<u8>, Vec<u8>);

/// What reading a snapshot found besides its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records read intact.
    pub records: u64,
    /// Damaged stretches skipped (a frame with a bad checksum or length and what follows it up to
    /// the next frame, or bytes between frames; records that do not decode).
    pub damaged: u64,
    /// Records the end frame says were written.
    pub written: u64,
}

impl ReadStats {
    /// Records written but not read back (damaged).
    pub fn lost(&self) -> u64 {
        self.written.saturating_sub(self.records)
    }
}

/// Reads a snapshot's records in order.
#[derive(Debug)]
pub struct Reader<R: Read> {
    r: R,
    path: PathBuf,
    /// Bytes given back after a damaged frame, read before `r`.
    back: VecDeque<u8>,
    stats: ReadStats,
    ended: bool,
    /// A damaged frame was given back: the search for the next marker is part of its damage.
    resyncing: bool,
}

impl Reader<BufReader<File>> {
    /// Opens a snapshot file and checks its header against the expected key-space fingerprint.
    pub fn open(path: &Path, fingerprint: u64) -> Result<Reader<BufReader<File>>, SnapshotError> {
        let f = File::open(path).map_err(|source| SnapshotError::Io { path: path.to_path_buf(), source })?;
        Reader::new(BufReader::with_capacity(1 << 20, f), path, Some(fingerprint))
    }
}

impl<R: Read> Reader<R> {
    /// Reads the header; `fingerprint`: the key space the reader works under (`None`: any, for
    /// looking inside).
    pub fn new(mut r: R, path: &Path, fingerprint: Option<u64>) -> Result<Reader<R>, SnapshotError> {
        let path = path.to_path_buf();
        let mut header = [0u8; 18];
        if let Err(e) = r.read_exact(&mut header) {
            return Err(match e.kind() {
                io::ErrorKind::UnexpectedEof => SnapshotError::NotASnapshot(path),
                _ => SnapshotError::Io { path, source: e },
            });
        }
        if &header[..8] != MAGIC {
            return Err(SnapshotError::NotASnapshot(path));
        }
        let found = u16::from_le_bytes([header[8], header[9]]);
        if found != FRAMING_VERSION {
            return Err(SnapshotError::Framing { path, found });
        }
        let written_under = u64::from_le_bytes(header[10..18].try_into().unwrap_or_default());
        if fingerprint.is_some_and(|f| f != written_under) {
            return Err(SnapshotError::OtherKey(path));
        }
        Ok(Reader { r, path, back: VecDeque::new(), stats: ReadStats::default(), ended: false, resyncing: false })
    }

    /// What was read so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The next record as (key, value) bytes; `None` after the end frame.
    pub fn next_raw(&mut self) -> Result<Option<RawRecord>, SnapshotError> {
        while !self.ended {
            let Some(payload) = self.next_frame()? else { continue };
            let Some((&key_len, rest)) = payload.split_first() else {
                self.stats.damaged += 1;
                continue;
            };
            if key_len == 0 {
                self.ended = true;
                self.stats.written = rest.try_into().map(u64::from_le_bytes).unwrap_or(0);
                return Ok(None);
            }
            let key_len = usize::from(key_len);
            if rest.len() < key_len {
                self.stats.damaged += 1;
                continue;
            }
            self.stats.records += 1;
            return Ok(Some((rest[..key_len].to_vec(), rest[key_len..].to_vec())));
        }
        Ok(None)
    }

    /// Reads one frame's payload; `None` when a damaged frame was skipped.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, SnapshotError> {
        // Find the sync marker; bytes before it are damage.
        let mut skipped = false;
        let mut prev = self.byte()?;
        loop {
            let b = self.byte()?;
            if [prev, b] == SYNC {
                break;
            }
            skipped = true;
            prev = b;
        }
        // Bytes skipped right after a damaged frame are that frame's: counted once.
        if skipped && !std::mem::take(&mut self.resyncing) {
            self.stats.damaged += 1;
        }
        self.resyncing = false;
        let mut head = [0u8; 8];
        self.fill(&mut head)?;
        let len = u32::from_le_bytes(head[..4].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(head[4..].try_into().unwrap_or_default());
        if len > MAX_FRAME_BYTES {
            self.stats.damaged += 1;
            self.give_back(&head, &[]);
            return Ok(None);
        }
        let mut payload = vec![0u8; len as usize];
        let got = self.fill_partial(&mut payload)?;
        if got < payload.len() {
            // The file ends inside this frame: its length is damaged (a cut file ends between
            // frames, where the search for the next marker reports it).
            self.stats.damaged += 1;
            self.give_back(&head, &payload[..got]);
            return Ok(None);
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&head[..4]);
        h.update(&payload);
        if h.finalize() != crc {
            // Resume the search just after this frame's marker: the damage may have hit the
            // length, and the next frame may start inside what was taken for this payload.
            self.stats.damaged += 1;
            self.give_back(&head, &payload);
            return Ok(None);
        }
        Ok(Some(payload))
    }

    fn give_back(&mut self, head: &[u8], payload: &[u8]) {
        self.resyncing = true;
        for &b in head.iter().chain(payload).rev() {
            self.back.push_front(b);
        }
    }

    fn byte(&mut self) -> Result<u8, SnapshotError> {
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    /// Fills `buf` as far as the file goes; returns how many bytes were read.
    fn fill_partial(&mut self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        let from_back = buf.len().min(self.back.len());
        for (b, x) in buf.iter_mut().zip(self.back.drain(..from_back)) {
            *b = x;
        }
        let mut n = from_back;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(SnapshotError::Io { path: self.path.clone(), source }),
            }
        }
        Ok(n)
    }

    /// Fills `buf` from the bytes given back, then from the file.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        let from_back = buf.len().min(self.back.len());
        for (b, x) in buf.iter_mut().zip(self.back.drain(..from_back)) {
            *b = x;
        }
        match self.r.read_exact(&mut buf[from_back..]) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(SnapshotError::Truncated { path: self.path.clone(), records: self.stats.records })
            }
            Err(source) => Err(SnapshotError::Io { path: self.path.clone(), source }),
        }
    }

    /// The next decoded record; records that do not decode (damaged value, unknown key) are
    /// skipped and counted as damaged, while a record of another format version stops reading.
    pub fn next_part(&mut self) -> Result<Option<(Part, PartOwned)>, SnapshotError> {
        while let Some((key, value)) = self.next_raw()? {
            match decode(&key, Some(&value)) {
                Ok((part, Some(v))) => return Ok(Some((part, v))),
                Ok((_, None)) => {}
                Err(source @ RecordError::Version { .. }) => {
                    return Err(SnapshotError::Record { path: self.path.clone(), source })
                }
                Err(RecordError::Damaged(_) | RecordError::Key(_)) => {
                    self.stats.records -= 1;
                    self.stats.damaged += 1;
                }
            }
        }
        Ok(None)
    }
}

/// What saving wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    /// Records written.
    pub records: u64,
    /// Bytes of the file.
    pub bytes: u64,
}

/// Saves a pipeline's state as `dir/credence.snapshot`, atomically: written to a temporary file
/// in the same directory, synced, then renamed over the old one.
pub fn save(dir: &Path, pipeline: &Pipeline) -> Result<Saved, SnapshotError> {
    let path = dir.join(FILE_NAME);
    let io_err = |source| SnapshotError::Io { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        let fingerprint = pipeline.clock().key_fingerprint;
        let mut w = Writer::new(BufWriter::with_capacity(1 << 20, file), fingerprint)?;
        let mut failed = None;
        let mut value = Vec::with_capacity(1024);
        let mut key = Vec::with_capacity(20);
        pipeline.export(&mut |part, v| {
            let Some(v) = v else { return };
            if failed.is_some() {
                return;
            }
            key.clear();
            part.encode(&mut key);
            value.clear();
            crate::encode_value(&v, &mut value);
            if let Err(e) = w.record(&key, &value) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let (buf, records) = w.finish()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&tmp, &path)?;
        // The rename itself is durable once the directory is.
        File::open(dir)?.sync_all()?;
        Ok(Saved { records, bytes })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

/// What loading read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Records read, damage, and records written.
    pub stats: ReadStats,
    /// Records that did not fit their key (skipped).
    pub mismatched: u64,
}

/// Loads `dir/credence.snapshot` into a pipeline; `Ok(None)` when there is none.
pub fn load(dir: &Path, pipeline: &mut Pipeline) -> Result<Option<Loaded>, SnapshotError> {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(None);
    }
    let mut reader = Reader::open(&path, pipeline.clock().key_fingerprint)?;
    let mut mismatched = 0;
    while let Some((part, value)) = reader.next_part()? {
        match pipeline.restore(part, Some(value)) {
            Ok(()) => {}
            Err(RestoreError::OtherKey) => return Err(SnapshotError::OtherKey(path)),
            Err(RestoreError::Mismatch(_)) => mismatched += 1,
        }
    }
    Ok(Some(Loaded { stats: reader.stats(), mismatched }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(records: &[(&[u8], &[u8])], fingerprint: u64) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), fingerprint).unwrap();
        for (k, v) in records {
            w.record(k, v).unwrap();
        }
        w.finish().unwrap().0
    }

    fn read_all(bytes: &[u8], fingerprint: Option<u64>) -> Result<(Vec<RawRecord>, ReadStats), SnapshotError> {
        let mut r = Reader::new(bytes, Path::new("test.snapshot"), fingerprint)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_raw()? {
            out.push(rec);
        }
        Ok((out, r.stats()))
    }

    fn records() -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..50u8).map(|i| (vec![b'b', i], vec![i; 40 + usize::from(i)])).collect()
    }

    #[test]
    fn records_round_trip() {
        let recs = records();
        let refs: Vec<(&[u8], &[u8])> = recs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let (got, stats) = read_all(&file(&refs, 7), Some(7)).unwrap();
        assert_eq!(got, recs);
        assert_eq!(stats, ReadStats { records: 50, damaged: 0, written: 50 });
    }

    /// A damaged record is skipped and counted; the records after it are all read.
    #[test]
    fn a_damaged_record_is_skipped_and_the_rest_are_read() {
        let recs = records();
        let refs: Vec<(&[u8], &[u8])> = recs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let clean = file(&refs, 7);
        // Damage inside a payload, a length field, and a sync marker, one file each.
        let offset_of = |n: usize| 18 + (0..n).map(|i| 10 + 1 + 2 + 40 + i).sum::<usize>();
        for (what, at) in [("payload", offset_of(20) + 30), ("length", offset_of(30) + 3), ("marker", offset_of(40))] {
            let mut bytes = clean.clone();
            bytes[at] ^= 0x5A;
            let (got, stats) = read_all(&bytes, Some(7)).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(got.len(), 49, "{what}: one record lost");
            assert!(stats.damaged >= 1, "{what}: counted");
            assert_eq!(stats.lost(), 1, "{what}");
            assert_eq!(got.last(), recs.last(), "{what}: read to the end");
        }
    }

    #[test]
    fn a_cut_file_a_foreign_key_and_other_files_are_refused() {
        let recs = records();
        let refs: Vec<(&[u8], &[u8])> = recs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let bytes = file(&refs, 7);
        let cut = &bytes[..bytes.len() - 30];
        assert!(matches!(read_all(cut, Some(7)), Err(SnapshotError::Truncated { records: 49, .. })));
        assert!(matches!(read_all(&bytes, Some(8)), Err(SnapshotError::OtherKey(_))));
        assert!(read_all(&bytes, None).is_ok(), "looking inside needs no key");
        assert!(matches!(read_all(b"{\"not\": \"a snapshot\"}", None), Err(SnapshotError::NotASnapshot(_))));
        assert!(matches!(read_all(b"CRDN", None), Err(SnapshotError::NotASnapshot(_))));
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert!(matches!(read_all(&newer, None), Err(SnapshotError::Framing { found: 9, .. })));
    }
}
