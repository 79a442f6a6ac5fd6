//! Validation of OCSF events against the OCSF schema in its *source* form.
//!
//! [`OcsfSchema::load`] reads an OCSF schema directory as published in the
//! `ocsf-schema` repository (`dictionary.json`, `categories.json`,
//! `objects/*.json`, `events/**/*.json`, `profiles/*.json`) and compiles it the
//! way the OCSF server does:
//!
//! * `extends` chains are flattened (objects and event classes); a child's
//!   attribute entry is deep-merged over its parent's, so enums accumulate and
//!   `"profile": null` turns a profile attribute into a core attribute;
//! * `$include`d files are merged under the including file's own attributes;
//!   attributes coming from a profile (`"meta": "profile"`) are tagged with it;
//! * every attribute entry is finally merged over its dictionary entry, which
//!   supplies `type`, `is_array` and `enum` unless overridden;
//! * `class_uid = category_uid * 1000 + uid`, the category being inherited
//!   along the `extends` chain (`base_event` is class 0 in category `other`);
//! * the `observable` object's `type_id` enum gains every `observable` number
//!   declared by data types, dictionary attributes, objects and attributes.
//!
//! [`OcsfSchema::validate`] then checks an event recursively: class lookup by
//! `class_uid`, required attributes, unknown attributes, value types (data
//! types resolve to their base type; `ip_t`, `subnet_t`, `mac_t`, `uuid_t` and
//! `datetime_t` formats, `max_len` and `range` are checked), integer enums,
//! `at_least_one` / `just_one` constraints, `category_uid` consistency and
//! `type_uid == class_uid * 100 + activity_id`. Free-form values are accepted
//! wherever the schema allows them: attributes typed `object` (such as
//! `unmapped`) and `json_t`.
//!
//! **Profiles.** Under the default [`ProfilePolicy::Declared`], an attribute
//! contributed by a profile (for instance `actor` from `host`, or `cloud` from
//! `cloud`) is accepted only if that profile is listed in `metadata.profiles`,
//! and the profile's required attributes become required exactly then. The
//! `datetime` profile allows a `<name>_dt` datetime string next to any
//! `timestamp_t` attribute. [`ProfilePolicy::Permissive`] accepts the
//! attributes of all profiles and never requires them.
//!
//! Not checked: string enums (e.g. `http_method`, whose values are merely
//! suggestions), regexes of other string types, sibling captions matching the
//! enum caption, and deprecation (deprecated attributes are still valid).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

/// Deepest object nesting the validator descends into.
const MAX_DEPTH: usize = 64;

/// Error raised while loading a schema directory.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A schema file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A schema file is not valid JSON.
    #[error("cannot parse {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The schema is structurally inconsistent.
    #[error("invalid OCSF schema ({context}): {message}")]
    Invalid { context: String, message: String },
}

fn invalid(context: &str, message: impl Into<String>) -> SchemaError {
    SchemaError::Invalid { context: context.to_owned(), message: message.into() }
}

/// How attributes contributed by profiles are treated; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfilePolicy {
    /// Profile attributes are allowed (and their required ones required)
    /// only when the profile is listed in `metadata.profiles`.
    #[default]
    Declared,
    /// Profile attributes are always allowed and never required.
    Permissive,
}

/// The category of a [`Violation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// `class_uid` names no event class of the schema.
    UnknownClass,
    /// A required attribute is absent or null.
    MissingRequired,
    /// The attribute is not defined for this class or object.
    UnknownAttribute,
    /// The attribute belongs to a profile not listed in `metadata.profiles`.
    UndeclaredProfile,
    /// `metadata.profiles` lists a profile the schema does not define.
    UnknownProfile,
    /// The JSON type of the value does not match the attribute type.
    WrongType,
    /// The value has the right JSON type but an invalid format, length or range.
    InvalidValue,
    /// An integer enum value is not defined for the attribute.
    EnumOutOfRange,
    /// `type_uid` differs from `class_uid * 100 + activity_id`.
    TypeUidMismatch,
    /// `category_uid` is not the category of the class.
    CategoryMismatch,
    /// An `at_least_one` or `just_one` constraint is not met.
    Constraint,
}

/// One reason why an event does not conform to the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path of the offending value, e.g. `finding_info.related_events[0].uid`;
    /// empty for the event itself.
    pub path: String,
    /// Category of the problem.
    pub kind: ViolationKind,
    /// Human-readable explanation.
    pub reason: String,
}

impl Violation {
    fn new(path: &str, kind: ViolationKind, reason: impl Into<String>) -> Self {
        Self { path: path.to_owned(), kind, reason: reason.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "<event>" } else { &self.path };
        write!(f, "{path}: {}", self.reason)
    }
}

/// Base JSON representation of a data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    String,
    Integer,
    Float,
    Boolean,
    Json,
}

/// String formats checked natively (mirroring the schema's regexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ip,
    Subnet,
    Mac,
    Uuid,
    Datetime,
}

/// A data type (`*_t`) resolved down to its base type.
#[derive(Debug, Clone, Copy)]
struct Primitive {
    base: Base,
    max_len: Option<u64>,
    range: Option<(i64, i64)>,
    format: Option<Format>,
}

#[derive(Debug, Clone)]
enum Kind {
    Primitive(Primitive),
    /// The generic `object` type: any JSON object.
    Generic,
    /// A named object definition.
    Object(String),
}

#[derive(Debug, Clone)]
struct AttrDef {
    ty: String,
    kind: Kind,
    is_array: bool,
    required: bool,
    profile: Option<String>,
    /// Allowed values of an integer enum.
    enum_ids: Option<BTreeSet<i64>>,
}

#[derive(Debug, Clone, Default)]
struct ObjectDef {
    attributes: BTreeMap<String, AttrDef>,
    at_least_one: Vec<String>,
    just_one: Vec<String>,
}

#[derive(Debug)]
struct ClassDef {
    name: String,
    class_uid: i64,
    category_uid: i64,
    body: ObjectDef,
}

/// A compiled OCSF schema.
#[derive(Debug)]
pub struct OcsfSchema {
    version: Option<String>,
    objects: BTreeMap<String, ObjectDef>,
    classes: BTreeMap<i64, ClassDef>,
    profiles: BTreeSet<String>,
    datetime: Option<Primitive>,
    policy: ProfilePolicy,
}

impl OcsfSchema {
    /// Loads and compiles the OCSF schema sources in `dir`.
    pub fn load(dir: &Path) -> Result<Self, SchemaError> {
        let dictionary = read_json(&dir.join("dictionary.json"))?;
        let categories = read_json(&dir.join("categories.json"))?;
        let version = match read_json(&dir.join("version.json")) {
            Ok(v) => v.get("version").and_then(Value::as_str).map(str::to_owned),
            Err(_) => None,
        };
        let dict = object_at(&dictionary, "attributes", "dictionary.json")?;
        let types = match dictionary.get("types") {
            Some(t) => object_at(t, "attributes", "dictionary.json types")?,
            None => Map::new(),
        };
        let raw_objects = read_definitions(&dir.join("objects"), false)?;
        let raw_events = read_definitions(&dir.join("events"), true)?;
        let profiles = read_definitions(&dir.join("profiles"), false)?.into_keys().collect();

        let loader = Loader {
            dir,
            primitives: resolve_primitives(&types)?,
            object_names: raw_objects.keys().cloned().collect(),
            dict,
        };
        let mut objects = BTreeMap::new();
        for name in raw_objects.keys() {
            let flat = loader.flatten(name, &raw_objects)?;
            objects.insert(name.clone(), loader.finalize(name, flat)?);
        }
        let observables = collect_observables(&loader.dict, &types, &raw_objects, &raw_events);
        if let Some(type_id) = objects.get_mut("observable").and_then(|o| o.attributes.get_mut("type_id")) {
            type_id.enum_ids.get_or_insert_with(BTreeSet::new).extend(observables);
        }

        let mut classes = BTreeMap::new();
        for (name, raw) in &raw_events {
            let own_uid = raw.get("uid").and_then(Value::as_i64);
            if own_uid.is_none() && name != "base_event" {
                continue; // abstract category-level class
            }
            let flat = loader.flatten(name, &raw_events)?;
            let category = flat.category.as_deref().unwrap_or("other");
            let category_uid = if category == "other" {
                0
            } else {
                categories
                    .get("attributes")
                    .and_then(|c| c.get(category))
                    .and_then(|c| c.get("uid"))
                    .and_then(Value::as_i64)
                    .ok_or_else(|| invalid(name, format!("unknown category `{category}`")))?
            };
            let class_uid = category_uid
                .checked_mul(1000)
                .and_then(|c| c.checked_add(own_uid.unwrap_or(0)))
                .ok_or_else(|| invalid(name, "class uid overflows"))?;
            let mut body = loader.finalize(name, flat)?;
            // These are computed and checked by dedicated rules.
            for computed in ["class_uid", "category_uid", "type_uid"] {
                if let Some(attr) = body.attributes.get_mut(computed) {
                    attr.enum_ids = None;
                }
            }
            let class = ClassDef { name: name.clone(), class_uid, category_uid, body };
            if let Some(other) = classes.insert(class_uid, class) {
                return Err(invalid(name, format!("class_uid {class_uid} also used by `{}`", other.name)));
            }
        }

        Ok(Self {
            version,
            objects,
            classes,
            profiles,
            datetime: loader.primitives.get("datetime_t").copied(),
            policy: ProfilePolicy::default(),
        })
    }

    /// Returns the schema with another [`ProfilePolicy`].
    #[must_use]
    pub fn with_profile_policy(mut self, policy: ProfilePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The schema version from `version.json`, if present.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The name of the event class with this `class_uid`, if any.
    pub fn class_name(&self, class_uid: i64) -> Option<&str> {
        self.classes.get(&class_uid).map(|c| c.name.as_str())
    }

    /// Checks `event`, returning every violation found (empty when valid).
    pub fn validate(&self, event: &Value) -> Vec<Violation> {
        use ViolationKind as K;
        let Some(obj) = event.as_object() else {
            return vec![Violation::new("", K::WrongType, "the event is not a JSON object")];
        };
        let class = match self.class_of(obj) {
            Ok(class) => class,
            Err(violation) => return vec![violation],
        };

        let mut checker = Checker { schema: self, profiles: None, out: Vec::new() };
        let declared = checker.declared_profiles(obj);
        if self.policy == ProfilePolicy::Declared {
            checker.profiles = Some(declared);
        }
        checker.check_object(&class.body, obj, "", 0);

        let mut out = checker.out;
        if let Some(category_uid) = obj.get("category_uid").and_then(Value::as_i64) {
            if category_uid != class.category_uid {
                out.push(Violation::new(
                    "category_uid",
                    K::CategoryMismatch,
                    format!("class {} belongs to category {}, not {category_uid}", class.class_uid, class.category_uid),
                ));
            }
        }
        let type_uid = obj.get("type_uid").and_then(Value::as_i64);
        let activity_id = obj.get("activity_id").and_then(Value::as_i64);
        if let (Some(type_uid), Some(activity_id)) = (type_uid, activity_id) {
            let expected = class.class_uid.checked_mul(100).and_then(|c| c.checked_add(activity_id));
            if expected != Some(type_uid) {
                let expected = expected.map_or_else(|| "out of range".to_owned(), |e| e.to_string());
                out.push(Violation::new(
                    "type_uid",
                    K::TypeUidMismatch,
                    format!("expected class_uid * 100 + activity_id = {expected}, found {type_uid}"),
                ));
            }
        }
        out
    }

    fn class_of(&self, event: &Map<String, Value>) -> Result<&ClassDef, Violation> {
        let uid = match event.get("class_uid") {
            None | Some(Value::Null) => {
                return Err(Violation::new("class_uid", ViolationKind::MissingRequired, "`class_uid` is missing"));
            }
            Some(uid) => uid.as_i64().ok_or_else(|| {
                Violation::new("class_uid", ViolationKind::WrongType, format!("expected an integer, found {uid}"))
            })?,
        };
        self.classes.get(&uid).ok_or_else(|| {
            Violation::new("class_uid", ViolationKind::UnknownClass, format!("no event class has uid {uid}"))
        })
    }

    /// Like [`validate`](Self::validate), as a `Result`.
    pub fn check(&self, event: &Value) -> Result<(), Vec<Violation>> {
        let violations = self.validate(event);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// An object or class with its `extends` chain and `$include`s merged, before
/// dictionary resolution.
#[derive(Debug, Default)]
struct Flat {
    attributes: Map<String, Value>,
    constraints: Option<Value>,
    category: Option<String>,
}

struct Loader<'a> {
    dir: &'a Path,
    dict: Map<String, Value>,
    primitives: BTreeMap<String, Primitive>,
    object_names: BTreeSet<String>,
}

impl Loader<'_> {
    /// Merges the definitions along the `extends` chain of `name`, root first.
    fn flatten(&self, name: &str, raw: &BTreeMap<String, Value>) -> Result<Flat, SchemaError> {
        let mut chain: Vec<&Value> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut current = Some(name);
        while let Some(n) = current {
            if !seen.insert(n) {
                return Err(invalid(name, format!("cyclic `extends` through `{n}`")));
            }
            let def = raw.get(n).ok_or_else(|| invalid(name, format!("extends unknown definition `{n}`")))?;
            chain.push(def);
            current = def.get("extends").and_then(Value::as_str);
        }
        let mut flat = Flat::default();
        for def in chain.into_iter().rev() {
            for (key, entry) in self.own_attributes(name, def)? {
                merge_entry(&mut flat.attributes, key, entry);
            }
            if let Some(constraints) = def.get("constraints") {
                flat.constraints = Some(constraints.clone()); // replaces the parent's
            }
            if let Some(category) = def.get("category").and_then(Value::as_str) {
                flat.category = Some(category.to_owned());
            }
        }
        Ok(flat)
    }

    /// A definition's own attributes, with its `$include`s merged underneath.
    fn own_attributes(&self, owner: &str, def: &Value) -> Result<Map<String, Value>, SchemaError> {
        let attrs = match def.get("attributes") {
            None => return Ok(Map::new()),
            Some(Value::Object(attrs)) => attrs,
            Some(_) => return Err(invalid(owner, "`attributes` is not an object")),
        };
        let mut out = Map::new();
        let includes: Vec<&Value> = match attrs.get("$include") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        };
        for include in includes {
            let rel = include
                .as_str()
                .filter(|p| Path::new(p).components().all(|c| matches!(c, Component::Normal(_))))
                .ok_or_else(|| invalid(owner, format!("bad $include {include}")))?;
            let included = read_json(&self.dir.join(rel))?;
            let is_profile = included.get("meta").and_then(Value::as_str) == Some("profile");
            let profile = included.get("name").and_then(Value::as_str).filter(|_| is_profile);
            if let Some(Value::Object(inc_attrs)) = included.get("attributes") {
                for (key, entry) in inc_attrs.iter().filter(|(k, _)| *k != "$include") {
                    let mut entry = entry.clone();
                    if let (Some(profile), Value::Object(e)) = (profile, &mut entry) {
                        e.entry("profile").or_insert_with(|| Value::from(profile));
                    }
                    merge_entry(&mut out, key.clone(), entry);
                }
            }
        }
        for (key, entry) in attrs.iter().filter(|(k, _)| *k != "$include") {
            merge_entry(&mut out, key.clone(), entry.clone());
        }
        Ok(out)
    }

    /// Resolves every attribute against the dictionary.
    fn finalize(&self, owner: &str, flat: Flat) -> Result<ObjectDef, SchemaError> {
        let mut def = ObjectDef::default();
        for (name, entry) in flat.attributes {
            let mut full = self.dict.get(&name).cloned().unwrap_or_else(|| Value::Object(Map::new()));
            deep_merge(&mut full, entry);
            let ty = full
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(owner, format!("attribute `{name}` has no type")))?;
            let kind = self
                .kind_of(ty)
                .ok_or_else(|| invalid(owner, format!("attribute `{name}` has unknown type `{ty}`")))?;
            let enum_ids = match (&kind, full.get("enum")) {
                (Kind::Primitive(p), Some(Value::Object(values))) if p.base == Base::Integer => Some(
                    values
                        .keys()
                        .map(|k| {
                            k.parse::<i64>()
                                .map_err(|_| invalid(owner, format!("`{name}` enum key `{k}` is not an integer")))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => None,
            };
            let attr = AttrDef {
                ty: ty.to_owned(),
                kind,
                is_array: full.get("is_array").and_then(Value::as_bool).unwrap_or(false),
                required: full.get("requirement").and_then(Value::as_str) == Some("required"),
                profile: full.get("profile").and_then(Value::as_str).map(str::to_owned),
                enum_ids,
            };
            def.attributes.insert(name, attr);
        }
        if let Some(constraints) = flat.constraints {
            def.at_least_one = string_list(&constraints, "at_least_one", owner)?;
            def.just_one = string_list(&constraints, "just_one", owner)?;
        }
        Ok(def)
    }

    fn kind_of(&self, ty: &str) -> Option<Kind> {
        if ty == "object" {
            Some(Kind::Generic)
        } else if let Some(p) = self.primitives.get(ty) {
            Some(Kind::Primitive(*p))
        } else {
            self.object_names.contains(ty).then(|| Kind::Object(ty.to_owned()))
        }
    }
}

/// Resolves the `types` section of the dictionary into base types.
fn resolve_primitives(types: &Map<String, Value>) -> Result<BTreeMap<String, Primitive>, SchemaError> {
    let mut out = BTreeMap::new();
    for name in types.keys() {
        let mut chain: Vec<(&str, &Value)> = Vec::new();
        let mut current = name.as_str();
        loop {
            let def = types.get(current).ok_or_else(|| invalid(name, format!("unknown base type `{current}`")))?;
            chain.push((current, def));
            match def.get("type").and_then(Value::as_str) {
                Some(parent) if chain.len() < 16 => current = parent,
                Some(_) => return Err(invalid(name, "type chain too long or cyclic")),
                None => break,
            }
        }
        let base = match current {
            "string_t" => Base::String,
            "integer_t" | "long_t" => Base::Integer,
            "float_t" => Base::Float,
            "boolean_t" => Base::Boolean,
            "json_t" => Base::Json,
            other => return Err(invalid(name, format!("unsupported root type `{other}`"))),
        };
        let range = chain.iter().find_map(|(_, d)| match d.get("range")?.as_array()?.as_slice() {
            [lo, hi] => Some((lo.as_i64()?, hi.as_i64()?)),
            _ => None,
        });
        let primitive = Primitive {
            base,
            max_len: chain.iter().find_map(|(_, d)| d.get("max_len")?.as_u64()),
            range,
            format: chain.iter().find_map(|(n, _)| format_of(n)),
        };
        out.insert(name.clone(), primitive);
    }
    Ok(out)
}

fn format_of(type_name: &str) -> Option<Format> {
    match type_name {
        "ip_t" => Some(Format::Ip),
        "subnet_t" => Some(Format::Subnet),
        "mac_t" => Some(Format::Mac),
        "uuid_t" => Some(Format::Uuid),
        "datetime_t" => Some(Format::Datetime),
        _ => None,
    }
}

/// Every `observable` type id declared anywhere in the schema.
fn collect_observables(
    dict: &Map<String, Value>,
    types: &Map<String, Value>,
    objects: &BTreeMap<String, Value>,
    events: &BTreeMap<String, Value>,
) -> BTreeSet<i64> {
    let id = |v: &Value| v.get("observable").and_then(Value::as_i64);
    let mut ids: BTreeSet<i64> = dict.values().chain(types.values()).filter_map(id).collect();
    for def in objects.values().chain(events.values()) {
        ids.extend(id(def));
        if let Some(Value::Object(attrs)) = def.get("attributes") {
            ids.extend(attrs.values().filter_map(id));
        }
    }
    ids
}

/// Walks an event's values against a class definition, collecting violations.
struct Checker<'a> {
    schema: &'a OcsfSchema,
    /// Profiles in force; `None` means all (permissive policy).
    profiles: Option<BTreeSet<String>>,
    out: Vec<Violation>,
}

impl Checker<'_> {
    fn push(&mut self, path: &str, kind: ViolationKind, reason: impl Into<String>) {
        self.out.push(Violation::new(path, kind, reason));
    }

    /// The profile names in `metadata.profiles`, reporting unknown ones.
    fn declared_profiles(&mut self, event: &Map<String, Value>) -> BTreeSet<String> {
        let listed = event.get("metadata").and_then(|m| m.get("profiles")).and_then(Value::as_array);
        let mut declared = BTreeSet::new();
        for (i, name) in listed.into_iter().flatten().enumerate() {
            let Some(name) = name.as_str() else { continue }; // reported as a type error
                                                              // `extension/name` profiles come from extensions this schema lacks.
            if !self.schema.profiles.contains(name) && !name.contains('/') {
                self.push(
                    &format!("metadata.profiles[{i}]"),
                    ViolationKind::UnknownProfile,
                    format!("unknown profile `{name}`"),
                );
            }
            declared.insert(name.to_owned());
        }
        declared
    }

    fn profile_active(&self, profile: &str) -> bool {
        self.profiles.as_ref().is_none_or(|p| p.contains(profile))
    }

    fn is_required(&self, attr: &AttrDef) -> bool {
        attr.required
            && match (&attr.profile, &self.profiles) {
                (None, _) => true,
                (Some(profile), Some(declared)) => declared.contains(profile),
                (Some(_), None) => false,
            }
    }

    fn check_object(&mut self, def: &ObjectDef, obj: &Map<String, Value>, path: &str, depth: usize) {
        use ViolationKind as K;
        if depth > MAX_DEPTH {
            self.push(path, K::InvalidValue, format!("nested deeper than {MAX_DEPTH} objects"));
            return;
        }
        for (name, attr) in &def.attributes {
            if self.is_required(attr) && obj.get(name).is_none_or(Value::is_null) {
                let reason = format!("required attribute `{name}` is missing");
                self.push(&join(path, name), K::MissingRequired, reason);
            }
        }
        for (name, value) in obj {
            let path = join(path, name);
            let Some(attr) = def.attributes.get(name) else {
                self.check_unknown(def, name, value, &path);
                continue;
            };
            if let Some(profile) = attr.profile.as_deref().filter(|p| !self.profile_active(p)) {
                let reason =
                    format!("`{name}` belongs to profile `{profile}`, which is not listed in metadata.profiles");
                self.push(&path, K::UndeclaredProfile, reason);
            } else if !value.is_null() {
                self.check_attr(attr, value, &path, depth);
            }
        }
        let present = |p: &String| is_present(obj, p);
        if !def.at_least_one.is_empty() && !def.at_least_one.iter().any(present) {
            let reason = format!("at least one of {:?} must be present", def.at_least_one);
            self.push(path, K::Constraint, reason);
        }
        if !def.just_one.is_empty() && def.just_one.iter().filter(|p| present(p)).count() != 1 {
            let reason = format!("exactly one of {:?} must be present", def.just_one);
            self.push(path, K::Constraint, reason);
        }
    }

    /// An attribute not defined by the object: only `<timestamp>_dt` siblings
    /// of the `datetime` profile are acceptable.
    fn check_unknown(&mut self, def: &ObjectDef, name: &str, value: &Value, path: &str) {
        let is_dt_sibling =
            name.strip_suffix("_dt").and_then(|stem| def.attributes.get(stem)).is_some_and(|a| a.ty == "timestamp_t");
        match self.schema.datetime {
            Some(datetime) if is_dt_sibling => {
                if !self.profile_active("datetime") {
                    let reason = format!("`{name}` needs the `datetime` profile in metadata.profiles");
                    self.push(path, ViolationKind::UndeclaredProfile, reason);
                } else if !value.is_null() {
                    self.check_primitive(datetime, "datetime_t", None, value, path);
                }
            }
            _ => self.push(path, ViolationKind::UnknownAttribute, format!("unknown attribute `{name}`")),
        }
    }

    fn check_attr(&mut self, attr: &AttrDef, value: &Value, path: &str, depth: usize) {
        if !attr.is_array {
            return self.check_single(attr, value, path, depth);
        }
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_single(attr, item, &format!("{path}[{i}]"), depth);
                }
            }
            None => {
                let reason = format!("expected an array of {}, found {}", attr.ty, json_kind(value));
                self.push(path, ViolationKind::WrongType, reason);
            }
        }
    }

    fn check_single(&mut self, attr: &AttrDef, value: &Value, path: &str, depth: usize) {
        let schema = self.schema;
        match &attr.kind {
            Kind::Primitive(p) => self.check_primitive(*p, &attr.ty, attr.enum_ids.as_ref(), value, path),
            Kind::Generic if value.is_object() => {}
            Kind::Object(name) if value.is_object() => {
                if let (Some(def), Some(obj)) = (schema.objects.get(name), value.as_object()) {
                    self.check_object(def, obj, path, depth + 1);
                }
            }
            Kind::Generic | Kind::Object(_) => {
                let reason = format!("expected a `{}` object, found {}", attr.ty, json_kind(value));
                self.push(path, ViolationKind::WrongType, reason);
            }
        }
    }

    fn check_primitive(&mut self, p: Primitive, ty: &str, enum_ids: Option<&BTreeSet<i64>>, value: &Value, path: &str) {
        use ViolationKind as K;
        let (matches, expected) = match p.base {
            Base::String => (value.is_string(), "a string"),
            Base::Integer => (value.is_i64() || value.is_u64(), "an integer"),
            Base::Float => (value.is_number(), "a number"),
            Base::Boolean => (value.is_boolean(), "a boolean"),
            Base::Json => (true, "any JSON value"),
        };
        if !matches {
            let reason = format!("expected {expected} ({ty}), found {}", json_kind(value));
            return self.push(path, K::WrongType, reason);
        }
        if let Some(s) = value.as_str() {
            if p.max_len.is_some_and(|max| s.chars().count() as u64 > max) {
                self.push(path, K::InvalidValue, format!("longer than the {ty} maximum length"));
            } else if p.format.is_some_and(|f| !format_ok(f, s)) {
                self.push(path, K::InvalidValue, format!("`{s}` is not a valid {ty}"));
            }
        }
        if p.base == Base::Integer {
            let n = value.as_i64();
            if let Some((lo, hi)) = p.range.filter(|(lo, hi)| !n.is_some_and(|n| (*lo..=*hi).contains(&n))) {
                self.push(path, K::InvalidValue, format!("{value} is outside the {ty} range {lo}..={hi}"));
            }
            if let Some(ids) = enum_ids.filter(|ids| !n.is_some_and(|n| ids.contains(&n))) {
                let reason = format!("{value} is not a defined enum value (allowed: {ids:?})");
                self.push(path, K::EnumOutOfRange, reason);
            }
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Whether the dotted attribute path (as used in constraints) holds a non-null value.
fn is_present(obj: &Map<String, Value>, dotted: &str) -> bool {
    let mut parts = dotted.split('.');
    let first = parts.next().and_then(|p| obj.get(p));
    parts.try_fold(first, |v, part| Some(v.and_then(|v| v.get(part)))).flatten().is_some_and(|v| !v.is_null())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn format_ok(format: Format, s: &str) -> bool {
    let b = s.as_bytes();
    match format {
        Format::Ip => parse_ip(s).is_some(),
        Format::Subnet => s.split_once('/').is_some_and(|(ip, len)| match (parse_ip(ip), len.parse::<u8>()) {
            (Some(IpAddr::V4(_)), Ok(len)) => len <= 32,
            (Some(IpAddr::V6(_)), Ok(len)) => len <= 128,
            _ => false,
        }),
        Format::Mac => fits(b, b"xx_xx_xx_xx_xx_xx"),
        // The schema's uuid_t regex is unanchored: a UUID must occur in the string.
        Format::Uuid => b.windows(36).any(|w| fits(w, b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")),
        // `YYYY-MM-DD[Tt]hh:mm:ss[.frac][Z|z|±hh:mm]`, as the schema's regex.
        Format::Datetime => {
            let Some((head, mut rest)) = b.split_at_checked(19) else { return false };
            if let Some(frac) = rest.strip_prefix(b".") {
                let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 {
                    return false;
                }
                rest = &frac[digits..];
            }
            fits(head, b"9999-99-99T99:99:99") && (matches!(rest, [] | [b'Z' | b'z']) || fits(rest, b"+99:99"))
        }
    }
}

/// Matches `s` against a template where `x` is a hex digit, `9` a digit, `T`
/// either `T` or `t`, `_` either `:` or `-`, `+` either `+` or `-`.
fn fits(s: &[u8], template: &[u8]) -> bool {
    s.len() == template.len()
        && s.iter().zip(template).all(|(c, t)| match t {
            b'x' => c.is_ascii_hexdigit(),
            b'9' => c.is_ascii_digit(),
            b'T' => matches!(c, b'T' | b't'),
            b'_' => matches!(c, b':' | b'-'),
            b'+' => matches!(c, b'+' | b'-'),
            t => c == t,
        })
}

/// An IP address, optionally with a `%zone` suffix and surrounding blanks.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.split_once('%').map_or(s, |(addr, _)| addr).parse().ok()
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else
/// (including `null`) replaces.
fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge_entry(base, key, value);
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn merge_entry(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        Some(existing) => deep_merge(existing, value),
        None => {
            map.insert(key, value);
        }
    }
}

fn string_list(constraints: &Value, key: &str, owner: &str) -> Result<Vec<String>, SchemaError> {
    match constraints.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| invalid(owner, format!("`{key}` holds a non-string"))))
            .collect(),
        Some(_) => Err(invalid(owner, format!("`{key}` is not an array"))),
    }
}

fn object_at(value: &Value, key: &str, context: &str) -> Result<Map<String, Value>, SchemaError> {
    match value.get(key) {
        Some(Value::Object(map)) => Ok(map.clone()),
        _ => Err(invalid(context, format!("`{key}` is missing or not an object"))),
    }
}

fn read_json(path: &Path) -> Result<Value, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|source| SchemaError::Json { path: path.to_owned(), source })
}

/// Reads every `*.json` definition in `dir` (recursively if asked), keyed by
/// its `name` attribute.
fn read_definitions(dir: &Path, recursive: bool) -> Result<BTreeMap<String, Value>, SchemaError> {
    let mut out = BTreeMap::new();
    read_definitions_into(dir, recursive, &mut out)?;
    Ok(out)
}

fn read_definitions_into(dir: &Path, recursive: bool, out: &mut BTreeMap<String, Value>) -> Result<(), SchemaError> {
    let io_err = |source| SchemaError::Io { path: dir.to_owned(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            if recursive {
                read_definitions_into(&path, true, out)?;
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let def = read_json(&path)?;
        let context = path.display().to_string();
        let name = def
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&context, "definition without a `name`"))?
            .to_owned();
        if out.insert(name.clone(), def).is_some() {
            return Err(invalid(&context, format!("duplicate definition `{name}`")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
