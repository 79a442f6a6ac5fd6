//! Framing of JSON input files: JSON lines, or whole documents (a CloudTrail delivery file, a
//! pretty-printed array), gzip-compressed or not (detected from the first bytes). Streams: memory
//! is bounded by one line in line mode; document mode holds one document (CloudTrail files are a
//! few MB).
//!
//! The framing is decided by the shape of the input, never by whether its first record is good:
//! the input is JSON lines when its first non-blank line is a JSON value by itself, or when most
//! of the lines after it are (a log whose first line was cut by rotation is still JSON lines);
//! otherwise it is a document split into its top-level values. Every line or value is handed on,
//! good or bad, so every record that is not replayed is counted with its reason.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use serde_json::value::RawValue;

/// Largest document accepted in document mode, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 30;

/// Longest line kept whole in line mode, bytes: four times the decoder's default message limit
/// (16 MiB), so any line the decoder could accept is kept; a longer one is cut there (and then
/// refused as oversized, with its reason) instead of filling memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Lines after the first looked at to decide the framing when the first line is not a JSON
/// value by itself: enough that one or two odd lines do not decide, few enough to stay cheap.
const FRAMING_LOOKAHEAD_LINES: usize = 16;

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

/// Whether `line` (trimmed) is one JSON value by itself.
fn is_value(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// Whether `lines` read together are JSON values, the last perhaps unfinished: the start of a
/// (pretty-printed) document, which a log whose first line was cut never is.
fn document_so_far(lines: &[Vec<u8>]) -> bool {
    let mut doc = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        doc.extend_from_slice(if i == 0 { strip_bom(trim(l)) } else { l });
        doc.push(b'\n');
    }
    let mut values = serde_json::Deserializer::from_slice(&doc).into_iter::<serde::de::IgnoredAny>();
    loop {
        match values.next() {
            None => return true,
            Some(Ok(_)) => {}
            Some(Err(e)) => return e.is_eof(),
        }
    }
}

/// Reads one line (to `\n` or the end) into `line`, keeping at most `MAX_LINE_BYTES + 1` bytes
/// of it (the rest is read and dropped). Returns the bytes read, 0 at the end.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
    line.clear();
    let mut total = 0;
    loop {
        let (done, used) = {
            let buf = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(total);
            }
            let (done, used) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, buf.len()),
            };
            let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
            line.extend_from_slice(&buf[..used.min(room)]);
            (done, used)
        };
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

/// A line as a message: without surrounding whitespace (`\r` of CRLF included) and byte-order
/// mark (files concatenated with `cat` carry one at every file's start).
fn message(line: &[u8]) -> &[u8] {
    trim(strip_bom(trim(line)))
}

/// Calls `f` with each message of `reader`: each non-blank line when the input is JSON lines,
/// else each top-level JSON value of the whole document (see the module's description). Returns
/// the number of messages.
pub fn for_each_message(mut reader: impl BufRead, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut line = Vec::with_capacity(4096);
    // The first non-blank lines as read, until the framing is known.
    let mut head: Vec<Vec<u8>> = Vec::new();
    let mut ended = false;
    loop {
        if read_line(&mut reader, &mut line)? == 0 {
            ended = true;
            break;
        }
        if message(&line).is_empty() {
            continue;
        }
        head.push(line.clone());
        if is_value(message(&head[0])) || head.len() > FRAMING_LOOKAHEAD_LINES {
            break;
        }
    }
    let Some(first) = head.first() else { return Ok(0) };
    let rest = &head[1..];
    let values = rest.iter().filter(|l| is_value(message(l))).count();
    let json_lines = is_value(message(first)) || (!document_so_far(&head) && values > 0 && values * 2 >= rest.len());
    if json_lines {
        let mut count = 0u64;
        for l in &head {
            f(message(l));
            count += 1;
        }
        if ended {
            return Ok(count);
        }
        loop {
            if read_line(&mut reader, &mut line)? == 0 {
                return Ok(count);
            }
            let m = message(&line);
            if !m.is_empty() {
                f(m);
                count += 1;
            }
        }
    }
    // Document mode: read the rest, then split into top-level values.
    let mut doc = Vec::new();
    for (i, l) in head.iter().enumerate() {
        // The byte-order mark before the document, if any.
        doc.extend_from_slice(if i == 0 { strip_bom(trim(l)) } else { l });
        if i == 0 {
            doc.push(b'\n');
        }
    }
    if !ended {
        (&mut reader).take(MAX_DOCUMENT_BYTES as u64).read_to_end(&mut doc)?;
    }
    let mut count = 0u64;
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

    /// Regression (issue 21): a JSON-lines file whose first line was cut (log rotation) was read
    /// as one document: 0 events, 1 decode error, the good records lost without a word.
    #[test]
    fn a_cut_first_line_is_one_bad_line_not_a_document() {
        let m = messages("ventName\":\"GetObject\"}\n{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(m, vec!["ventName\":\"GetObject\"}", "{\"a\":1}", "{\"b\":2}"]);
        // Cut at its end instead: it starts like a document, the lines after it say otherwise.
        let m = messages("{\"eventName\":\"GetOb\n{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(m, vec!["{\"eventName\":\"GetOb", "{\"a\":1}", "{\"b\":2}"]);
        // Beyond the lookahead: every line still comes through.
        let mut input = String::from("garbage\n");
        input.extend((0..100).map(|i| format!("{{\"n\":{i}}}\n")));
        assert_eq!(messages(&input).len(), 101);
    }

    #[test]
    fn a_cut_last_line_is_one_bad_line() {
        assert_eq!(messages("{\"a\":1}\n{\"b\":2}\n{\"c\":"), vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":"]);
    }

    #[test]
    fn blank_lines_crlf_and_byte_order_marks() {
        let input = "\u{feff}{\"a\":1}\r\n\r\n   \n\t\n{\"b\":2}\r\n\u{feff}{\"c\":3}\r\n";
        assert_eq!(messages(input), vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        // A BOM before a pretty document.
        assert_eq!(messages("\u{feff}{\r\n \"x\": 1\r\n}\r\n"), vec!["{\n \"x\": 1\r\n}"]);
    }

    #[test]
    fn a_document_followed_by_garbage_keeps_the_document() {
        // Pretty: the document, then the rest as one bad message.
        assert_eq!(messages("{\n \"x\": 1\n}\nnot json at all\n"), vec!["{\n \"x\": 1\n}", "not json at all"]);
        // On one line: one bad line (the decoder says "trailing characters").
        assert_eq!(messages("{\"a\":1} trailing\n{\"b\":2}\n"), vec!["{\"a\":1} trailing", "{\"b\":2}"]);
    }

    #[test]
    fn a_ten_megabyte_record_comes_through_whole() {
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(10 << 20));
        let input = format!("{{\"a\":1}}\n{big}\n{{\"b\":2}}\n");
        let mut sizes = Vec::new();
        for_each_message(input.as_bytes(), |m| sizes.push(m.len())).unwrap();
        assert_eq!(sizes, vec![7, big.len(), 7]);
        // First, too.
        let input = format!("{big}\n{{\"b\":2}}\n");
        let mut sizes = Vec::new();
        for_each_message(input.as_bytes(), |m| sizes.push(m.len())).unwrap();
        assert_eq!(sizes, vec![big.len(), 7]);
    }

    #[test]
    fn a_line_beyond_the_limit_is_cut_not_held_whole() {
        let huge = vec![b'x'; MAX_LINE_BYTES + 1000];
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend(&huge);
        input.extend(b"\n{\"b\":2}\n");
        let mut sizes = Vec::new();
        for_each_message(&input[..], |m| sizes.push(m.len())).unwrap();
        assert_eq!(sizes, vec![7, MAX_LINE_BYTES + 1, 7]);
    }

    #[test]
    fn invalid_utf8_in_the_middle_costs_its_line_only() {
        let mut input = b"{\"a\":1}\n{\"b\":\"".to_vec();
        input.extend([0xff, 0xfe]);
        input.extend(b"\"}\n{\"c\":3}\n");
        let mut out = Vec::new();
        for_each_message(&input[..], |m| out.push(m.to_vec())).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], b"{\"c\":3}");
        assert!(std::str::from_utf8(&out[1]).is_err());
    }

    #[test]
    fn empty_input() {
        assert!(messages("\n\n").is_empty());
    }
}
