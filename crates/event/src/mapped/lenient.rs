//! Forgiving serde types shared by the CloudTrail, Kong, Envoy and mapped decoders.
//!
//! Real logs bend their own schemas: a number arrives as `"403"`, an optional object as `null` or
//! a string, a header as an array when it was repeated, a missing value as `"-"`. These types read
//! what they can and ignore the rest, so one odd field never costs the whole record. Strings borrow
//! from the input unless they carry escapes; nothing else allocates.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::time;

/// Consumes a map without looking at it.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Consumes a sequence without looking at it.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A string if the value is one (or, for a repeated header logged as an array, the first string in
/// it); `None` for anything else. Use [`Text::get`] to read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The value, unless absent, empty or blank, or the `-` that access loggers write for "no
    /// value".
    pub(crate) fn get(self) -> Option<Cow<'a, str>> {
        self.0.filter(|s| !s.trim().is_empty() && s != "-")
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                Text::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map)?;
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut first = None;
                while let Some(t) = seq.next_element::<Text<'a>>()? {
                    if first.is_none() {
                        first = t.0;
                    }
                }
                Ok(Text(first))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A number, given as a JSON number or as a numeric string (`"403"`, `" 12.5 "`); `None` for
/// anything else, including `"-"`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Number(pub Option<f64>);

impl Number {
    /// As a non-negative integer, if it is one in range (fractions truncated).
    pub(crate) fn as_u64(self) -> Option<u64> {
        self.0.filter(|v| v.is_finite() && *v >= 0.0 && *v < 1.8e19).map(|v| v as u64)
    }

    /// As an HTTP status code, if it is one.
    pub(crate) fn as_status(self) -> Option<u16> {
        self.as_u64().and_then(|v| u16::try_from(v).ok()).filter(|s| (100..600).contains(s))
    }
}

/// Parses a numeric string.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Number(Some(v).filter(|v| v.is_finite())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Number(parse_number(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Number(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Number(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Number(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                Number::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map)?;
                Ok(Number(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq)?;
                Ok(Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object read as `T` when the value is an object; `None` when it is anything else (`null`, a
/// string, an array), so that e.g. CloudTrail's `"requestParameters": null` costs nothing.
#[derive(Debug, Clone)]
pub(crate) struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq)?;
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                Obj::deserialize(d)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The first object of an array read as `T`, the rest skipped without allocating; `None` for an
/// empty array or anything that is not an array of objects.
#[derive(Debug, Clone)]
pub(crate) struct First<T>(pub Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Obj<T>>()?.and_then(|o| o.0);
                skip_seq(seq)?;
                Ok(First(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map)?;
                Ok(First(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(First(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                First::deserialize(d)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Parses a logged timestamp given as text: a date-time ([`parse_datetime_text`]) or a numeric
/// epoch in s/ms/µs chosen by magnitude.
pub(crate) fn parse_time_text(s: &str) -> Option<i64> {
    parse_datetime_text(s).or_else(|| parse_number(s).and_then(time::epoch_to_ms))
}

/// Parses a date-time: RFC 3339 (also with a space for `T`), the same without a zone (taken as
/// UTC, as data-lake exports write it), or the Common Log Format time `10/Oct/2024:13:55:36 +0000`
/// (nginx, API gateways' `$context.requestTime`).
pub(crate) fn parse_datetime_text(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = time::parse_rfc3339_ms(s) {
        return Some(ms);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok().map(|t| t.timestamp_millis())
}

/// Narrows a string to a part of itself, staying borrowed when it was.
pub(crate) fn narrow<'a>(s: Cow<'a, str>, part: impl for<'x> FnOnce(&'x str) -> &'x str) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(part(b)),
        Cow::Owned(o) => Cow::Owned(part(&o).to_owned()),
    }
}

/// Splits a raw JSON message into records: the elements of a top-level array, else the message
/// itself. A message that is not JSON at all yields the parse error.
pub(crate) fn records(text: &str) -> Result<Records<'_>, serde_json::Error> {
    if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text).map(Records::Many)
    } else {
        Ok(Records::One(text))
    }
}

/// The records of one message.
pub(crate) enum Records<'a> {
    One(&'a str),
    Many(Vec<&'a serde_json::value::RawValue>),
}

impl<'a> Records<'a> {
    /// Calls `f` on each record's text.
    pub(crate) fn for_each(self, mut f: impl FnMut(&'a str)) {
        match self {
            Records::One(t) => f(t),
            Records::Many(v) => v.into_iter().for_each(|r| f(r.get())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Probe<'a> {
        #[serde(borrow)]
        s: Text<'a>,
        n: Number,
        o: Obj<Inner<'a>>,
        #[serde(borrow)]
        f: First<Inner<'a>>,
    }

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow)]
        a: Text<'a>,
    }

    fn probe(json: &str) -> Probe<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn wrong_types_are_ignored_not_fatal() {
        let p = probe(r#"{"s":{"x":[1,2]},"n":{"y":1},"o":"str","f":{"a":"b"}}"#);
        assert_eq!(p.s.get(), None);
        assert_eq!(p.n.0, None);
        assert!(p.o.0.is_none());
        assert!(p.f.0.is_none());
        let p = probe(r#"{"s":null,"n":null,"o":null,"f":null}"#);
        assert!(p.s.get().is_none() && p.n.0.is_none() && p.o.0.is_none() && p.f.0.is_none());
    }

    #[test]
    fn reads_what_it_can() {
        let p = probe(r#"{"s":["first","second"],"n":"403","o":{"a":"x","z":[{}]},"f":[{"a":"one"},{"a":"two"},3]}"#);
        assert_eq!(p.s.get().as_deref(), Some("first"));
        assert_eq!(p.n.as_status(), Some(403));
        assert_eq!(p.o.0.unwrap().a.get().as_deref(), Some("x"));
        assert_eq!(p.f.0.unwrap().a.get().as_deref(), Some("one"));
        assert_eq!(probe(r#"{"n":12.9}"#).n.as_u64(), Some(12));
        assert_eq!(probe(r#"{"n":-1}"#).n.as_u64(), None);
        assert_eq!(probe(r#"{"n":"-"}"#).n.0, None);
        assert_eq!(probe(r#"{"n":"NaN"}"#).n.0, None);
        assert_eq!(probe(r#"{"s":"-"}"#).s.get(), None);
        assert!(matches!(probe(r#"{"s":"plain"}"#).s.0, Some(Cow::Borrowed(_))));
        assert_eq!(probe(r#"{"s":"a\"b"}"#).s.get().as_deref(), Some("a\"b"));
    }

    #[test]
    fn time_text_shapes() {
        let want = Some(1_722_375_081_000);
        assert_eq!(parse_time_text("2024-07-30T21:31:21Z"), want);
        assert_eq!(parse_time_text("2024-07-30 21:31:21"), want);
        assert_eq!(parse_time_text("2024-07-30 21:31:21.000"), want);
        assert_eq!(parse_time_text("1722375081"), want);
        assert_eq!(parse_time_text("1722375081000"), want);
        assert_eq!(parse_time_text("30/Jul/2024:21:31:21 +0000"), want);
        assert_eq!(parse_time_text("30/Jul/2024:23:31:21 +0200"), want);
        assert_eq!(parse_time_text("soon"), None);
        assert_eq!(parse_time_text(""), None);
        assert_eq!(parse_time_text("-"), None);
    }

    #[test]
    fn narrowing_keeps_borrows() {
        let n = narrow(Cow::Borrowed("a,b"), |s| s.split(',').next().unwrap_or(s));
        assert!(matches!(n, Cow::Borrowed("a")));
        let n = narrow(Cow::Owned("a,b".into()), |s| s.split(',').nth(1).unwrap_or(s));
        assert_eq!(n, "b");
    }

    #[test]
    fn records_split_arrays_only() {
        let mut n = 0;
        records(r#" [ {"a":1}, {"b":2} ]"#).unwrap().for_each(|_| n += 1);
        assert_eq!(n, 2);
        let mut seen = Vec::new();
        records(r#"{"a":1}"#).unwrap().for_each(|t| seen.push(t));
        assert_eq!(seen, [r#"{"a":1}"#]);
        assert!(records("[1,").is_err());
    }
}
