//! serde helpers shared by the decoders.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A string that borrows from the input when it has no escapes. serde's own `Cow` impl always
/// allocates inside an `Option`, so the decoders use this instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BStr<'a>(pub Cow<'a, str>);

impl<'a> BStr<'a> {
    pub(crate) fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for BStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// An optional borrowed string field: `Option<BStr>`, mapped to `Option<Cow>` by [`cow`].
pub(crate) type OptStr<'a> = Option<BStr<'a>>;

/// Converts an optional field, dropping empty and blank strings (loggers write `""` for
/// "absent"; a credential id of spaces identifies nothing).
pub(crate) fn cow(s: OptStr<'_>) -> Option<Cow<'_, str>> {
    s.map(BStr::into_cow).filter(|v| !v.trim().is_empty())
}
