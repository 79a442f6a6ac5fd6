//! Decoding errors, with a small fixed set of error types for metrics.

/// The fixed set of decode error types: the only values of the `error_type` metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Not valid UTF-8.
    InvalidUtf8,
    /// Not valid JSON.
    InvalidJson,
    /// Valid JSON of the wrong shape for the configured format.
    WrongFormat,
    /// A field the format requires is absent or null.
    MissingField,
    /// A field is present but unusable (bad timestamp, wrong type).
    InvalidField,
    /// The message exceeds the configured size limit.
    Oversized,
}

impl ErrorType {
    /// Every error type, for resolving metric children up front.
    pub const ALL: [ErrorType; 6] = [
        ErrorType::InvalidUtf8,
        ErrorType::InvalidJson,
        ErrorType::WrongFormat,
        ErrorType::MissingField,
        ErrorType::InvalidField,
        ErrorType::Oversized,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidUtf8 => "invalid_utf8",
            ErrorType::InvalidJson => "invalid_json",
            ErrorType::WrongFormat => "wrong_format",
            ErrorType::MissingField => "missing_field",
            ErrorType::InvalidField => "invalid_field",
            ErrorType::Oversized => "oversized",
        }
    }
}

/// Why one record could not be decoded. Carries no field values, so it is safe to log and to
/// publish on a dead-letter topic even when the record held a raw credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid UTF-8.
    #[error("input is not valid UTF-8 (at byte {0})")]
    InvalidUtf8(usize),
    /// Not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// Wrong shape for the format.
    #[error("not a {format} record: {reason}")]
    WrongFormat {
        /// The format that was expected.
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A required field is missing.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// A field is present but unusable.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Over the size limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    Oversized {
        /// Message size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
}

impl DecodeError {
    /// The error's type, for the metric label.
    pub fn error_type(&self) -> ErrorType {
        match self {
            DecodeError::InvalidUtf8(_) => ErrorType::InvalidUtf8,
            DecodeError::InvalidJson(_) => ErrorType::InvalidJson,
            DecodeError::WrongFormat { .. } => ErrorType::WrongFormat,
            DecodeError::MissingField(_) => ErrorType::MissingField,
            DecodeError::InvalidField { .. } => ErrorType::InvalidField,
            DecodeError::Oversized { .. } => ErrorType::Oversized,
        }
    }

    /// Wraps a serde_json error. serde_json quotes offending values in some messages
    /// (`invalid type: string "...", expected u16`); those could be credentials, so every quoted
    /// span is redacted before the message goes anywhere.
    pub(crate) fn json(e: serde_json::Error) -> DecodeError {
        DecodeError::InvalidJson(redact_quoted(&e.to_string()))
    }

    /// An invalid field.
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> DecodeError {
        DecodeError::InvalidField { field, reason: reason.into() }
    }
}

/// Replaces the contents of every double-quoted span with `…`.
pub(crate) fn redact_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut inside = false;
    for c in msg.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_quoted_values() {
        let e = serde_json::from_str::<u16>("\"AKIASECRET\"").unwrap_err();
        let d = DecodeError::json(e);
        let shown = d.to_string();
        assert!(!shown.contains("AKIASECRET"), "{shown}");
        assert_eq!(d.error_type(), ErrorType::InvalidJson);
    }
}
