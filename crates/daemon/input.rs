//! Framing of JSON input files: JSON lines, or whole documents (a CloudTrail delivery file, a
//! pretty-printed array), detected from the first line. Streams: memory is bounded by one line in
//! line mode; document mode holds one document (CloudTrail files are a few MB).

use std::io::{self, BufRead, Read};

use serde_json::value::RawValue;

/// Largest document accepted in document mode, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 30;

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

    #[test]
    fn empty_input() {
        assert!(messages("\n\n").is_empty());
    }
}
