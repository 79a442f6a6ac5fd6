//! Framing of JSON input files: JSON lines, or whole documents (a CloudTrail delivery file, a
//! pretty-printed array), detected from the first line, gzip-compressed or not (detected from the
//! first bytes). Streams: memory is bounded by one line in line mode; document mode holds one
//! document (CloudTrail files are a few MB).

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use serde_json::value::RawValue;

/// Largest document accepted in document mode, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 30;

/// Buffer of an input file's reader, bytes.
const READ_BUFFER: usize = 1 << 20;

/// The start of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A buffered reader of `input`, decompressed when it starts with gzip's magic number, as `zcat`
/// reads it: every member of a multi-member file in turn. CloudTrail delivers its log files to S3
/// as `.json.gz`, and they can be replayed as they were downloaded. A corrupt or truncated
/// compressed file is a read error (`InvalidInput`, `UnexpectedEof`) after the messages before
/// the damage.
pub fn open<'a>(input: impl Read + 'a) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, input);
    let compressed = reader.fill_buf()?.starts_with(&GZIP_MAGIC);
    Ok(if compressed {
        Box::new(BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    })
}

/// Calls `f` with each message of `reader`: each non-blank line when the input is JSON lines,
/// else each top-level JSON value of the whole document. Returns the number of messages.
pub fn for_each_message(mut reader: impl BufRead, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut line = Vec::with_capacity(4096);
    let mut count = 0u64;
    // Find the first non-blank line.
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(0);
        }
        if !trim(&line).is_empty() {
            break;
        }
    }
    let first = strip_bom(trim(&line)).to_vec();
    if serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok() {
        f(&first);
        count += 1;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(count);
            }
            let l = trim(&line);
            if !l.is_empty() {
                f(l);
                count += 1;
            }
        }
    }
    // Document mode: read the rest, then split into top-level values.
    let mut doc = first;
    doc.push(b'\n');
    (&mut reader).take(MAX_DOCUMENT_BYTES as u64).read_to_end(&mut doc)?;
    let mut values = serde_json::Deserializer::from_slice(&doc).into_iter::<&RawValue>();
    loop {
        match values.next() {
            None => return Ok(count),
            Some(Ok(v)) => {
                f(v.get().as_bytes());
                count += 1;
            }
            Some(Err(_)) => {
                // Unparseable document: hand the remainder over whole, so it is counted as one
                // decode error with its reason instead of vanishing.
                let rest = &doc[values.byte_offset()..];
                if !trim(rest).is_empty() {
                    f(trim(rest));
                    count += 1;
                }
                return Ok(count);
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(input: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_message(input.as_bytes(), |m| out.push(String::from_utf8_lossy(m).into_owned())).unwrap();
        out
    }

    #[test]
    fn json_lines_with_blank_and_bad_lines() {
        assert_eq!(messages("\n{\"a\":1}\r\n\nnot json\n{\"b\":2}"), vec!["{\"a\":1}", "not json", "{\"b\":2}"]);
    }

    #[test]
    fn pretty_documents_and_arrays() {
        assert_eq!(messages("[\n {\"a\": 1},\n {\"a\": 2}\n]\n"), vec!["[\n {\"a\": 1},\n {\"a\": 2}\n]"]);
        assert_eq!(messages("{\n \"x\": 1\n}\n{\n \"y\": 2\n}"), vec!["{\n \"x\": 1\n}", "{\n \"y\": 2\n}"]);
    }

    #[test]
    fn broken_document_is_one_bad_message() {
        let m = messages("{\n \"x\": [1,\n");
        assert_eq!(m.len(), 1);
        assert!(m[0].contains("\"x\""));
    }

    fn gzip(parts: &[&str]) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::new();
        // One member per part: `cat a.gz b.gz` is a valid gzip file of both.
        for part in parts {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(part.as_bytes()).unwrap();
            out.extend(z.finish().unwrap());
        }
        out
    }

    fn opened(bytes: &[u8]) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for_each_message(open(bytes)?, |m| out.push(String::from_utf8_lossy(m).into_owned()))?;
        Ok(out)
    }

    #[test]
    fn gzip_input_is_read_as_zcat_reads_it() {
        let plain = "{\"a\":1}\n{\"b\":2}\n";
        assert_eq!(opened(plain.as_bytes()).unwrap(), vec!["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(opened(&gzip(&[plain])).unwrap(), vec!["{\"a\":1}", "{\"b\":2}"]);
        let doc = "{\"Records\": [\n {\"eventName\": \"GetObject\"}\n]}\n";
        assert_eq!(opened(&gzip(&[doc])).unwrap(), vec![doc.trim()]);
        assert_eq!(opened(&gzip(&["{\"a\":1}\n", "{\"b\":2}\n"])).unwrap(), vec!["{\"a\":1}", "{\"b\":2}"]);
        assert!(opened(&gzip(&[""])).unwrap().is_empty());
        assert!(opened(b"").unwrap().is_empty());
    }

    #[test]
    fn damaged_gzip_is_a_read_error_after_the_messages_before_it() {
        let lines: String = (0..2000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let z = gzip(&[&lines]);
        let truncated = &z[..z.len() / 2];
        let mut seen = 0;
        let r = for_each_message(open(truncated).unwrap(), |_| seen += 1);
        assert!(r.is_err(), "a truncated file is an error, not a short file");
        assert!(seen > 0 && seen < 2000, "{seen} messages before the damage");
        let mut corrupt = z.clone();
        corrupt[20] ^= 0xff;
        assert!(opened(&corrupt).is_err());
    }

    #[test]
    fn empty_input() {
        assert!(messages("\n\n").is_empty());
    }
}
