//! Placeholder, being written.
use crate::{DecodeError, Decoder, Event};
pub(crate) fn decode<'a>(_d: &Decoder, _text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    out.push(Err(DecodeError::MissingField("unimplemented")));
}
