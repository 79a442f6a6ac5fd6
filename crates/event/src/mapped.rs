//! Placeholder, being written.
use crate::{DecodeError, Decoder, Event};
/// Field mapping.
#[derive(Clone, Debug, Default)]
pub struct FieldMapping {}
/// Mapping error.
#[derive(Debug, thiserror::Error)]
#[error("mapping")]
pub struct MappingError;
pub(crate) fn decode<'a>(d: &Decoder, _text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    let _ = d.field_mapping();
    out.push(Err(DecodeError::MissingField("unimplemented")));
}
