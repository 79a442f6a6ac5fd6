//! IP enrichment from MaxMind-format (`.mmdb`) databases: country, city, coordinates, ASN and its
//! organisation for events whose log carries an IP address and nothing else about the origin
//! (CloudTrail, Kong, Envoy). Without it the travel, concurrent-use and country/ASN novelty
//! detectors cannot fire on those sources.
//!
//! - [`GeoIp`] holds the databases, shared by every pipeline of a process. [`GeoIp::reload_if_changed`]
//!   reopens a file whose size or modification time changed (the caller decides when to look);
//!   a file that does not open keeps the databases in use.
//! - [`Enricher`] is one pipeline's view: a small direct-mapped cache of lookups in front of the
//!   shared databases, emptied when they are reloaded. It fills only what an event lacks, so
//!   pre-enriched OCSF input keeps its own values.
//!
//! Two record layouts are read, whatever the database's type: MaxMind's and DB-IP's
//! (`country.iso_code`, `city.names.en`, `location.latitude`, `autonomous_system_number`) and the
//! flat one of ip-location-db and others (`country_code`, `city`, `latitude`, `longitude`). A city
//! and an ASN database may be given separately or be one file.
//!
//! Private and reserved addresses ([`is_reserved`]) are never looked up: they locate nothing.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use maxminddb::Reader;
use serde::Deserialize;

use crate::{Country, GeoPoint, Origin};

/// Cache slots per pipeline (about 64 bytes each: 256 KiB). Sized for a partition whose recent
/// traffic comes from a few thousand addresses (NAT gateways, offices, CI runners). Measured
/// (`benches/geoip.rs`, docs/BENCHMARKS.md): a lookup in both real databases costs about 2.5 µs;
/// on traffic rotating through 10,000 addresses this cache hits only 38% of the time and
/// enrichment costs about 2.8 µs an event. Larger caches are untested.
pub const CACHE_SLOTS: usize = 4096;

/// Where the databases are. Either may be absent; both may name the same file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoIpPaths {
    /// A city (or country) database: country, city, coordinates.
    pub city: Option<PathBuf>,
    /// An ASN database: autonomous system number and organisation.
    pub asn: Option<PathBuf>,
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a MaxMind-format database.
    #[error("{path} is not a MaxMind DB (.mmdb) file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One open database file and what it was opened from.
struct Database {
    path: PathBuf,
    /// Size and modification time when read: a change of either means the file was replaced.
    stamp: (u64, Option<SystemTime>),
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .field("type", &self.reader.metadata().database_type)
            .finish_non_exhaustive()
    }
}

fn stamp(path: &Path) -> Result<(u64, Option<SystemTime>), GeoIpError> {
    let m = std::fs::metadata(path).map_err(|source| GeoIpError::Io { path: path.to_owned(), source })?;
    Ok((m.len(), m.modified().ok()))
}

impl Database {
    fn open(path: &Path) -> Result<Database, GeoIpError> {
        let stamp = stamp(path)?;
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Io { path: path.to_owned(), source })?;
        let reader = Reader::from_source(bytes)
            .map_err(|e| GeoIpError::Format { path: path.to_owned(), reason: e.to_string() })?;
        Ok(Database { path: path.to_owned(), stamp, reader })
    }

    /// The record for `ip`, if the database has one and it decodes.
    fn lookup(&self, ip: IpAddr) -> Option<Record<'_>> {
        // A record that does not decode is treated as absent: one odd entry must not stop a
        // stream, and the database is the operator's to fix.
        self.reader.lookup(ip).ok()?.decode::<Record>().ok().flatten()
    }
}

/// The databases in use.
#[derive(Debug)]
struct Databases {
    city: Option<Database>,
    asn: Option<Database>,
}

/// What a database says about one address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Located {
    /// Country.
    pub country: Option<Country>,
    /// City, in English.
    pub city: Option<Arc<str>>,
    /// Coordinates.
    pub geo: Option<GeoPoint>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The autonomous system's organisation.
    pub org: Option<Arc<str>>,
}

/// The databases, shared by every pipeline of the process; cheap to clone.
#[derive(Clone, Debug)]
pub struct GeoIp {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    paths: GeoIpPaths,
    current: RwLock<Arc<Databases>>,
    /// Bumped at every reload, so each [`Enricher`] empties its cache.
    generation: AtomicU64,
}

impl GeoIp {
    /// Opens the databases at `paths`.
    pub fn open(paths: GeoIpPaths) -> Result<GeoIp, GeoIpError> {
        let dbs = load(&paths)?;
        Ok(GeoIp {
            shared: Arc::new(Shared { paths, current: RwLock::new(Arc::new(dbs)), generation: AtomicU64::new(0) }),
        })
    }

    /// The configured paths.
    pub fn paths(&self) -> &GeoIpPaths {
        &self.shared.paths
    }

    /// The database type of each open file (`GeoLite2-City`, `DBIP-City-Lite`, …), city first.
    pub fn describe(&self) -> Vec<(PathBuf, String)> {
        let dbs = self.current();
        [&dbs.city, &dbs.asn]
            .into_iter()
            .flatten()
            .map(|d| (d.path.clone(), d.reader.metadata().database_type.clone()))
            .collect()
    }

    /// Reopens every file whose size or modification time changed since it was read. `Ok(true)`
    /// when something was reloaded; on an error the databases in use stay in use.
    pub fn reload_if_changed(&self) -> Result<bool, GeoIpError> {
        let old = self.current();
        let changed = |db: &Option<Database>| db.as_ref().map(|d| stamp(&d.path).map(|s| s != d.stamp));
        let city_changed = changed(&old.city).transpose()?.unwrap_or(false);
        let asn_changed = changed(&old.asn).transpose()?.unwrap_or(false);
        if !city_changed && !asn_changed {
            return Ok(false);
        }
        let dbs = load(&self.shared.paths)?;
        drop(old);
        *self.shared.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(dbs);
        self.shared.generation.fetch_add(1, Ordering::Release);
        Ok(true)
    }

    fn current(&self) -> Arc<Databases> {
        Arc::clone(&self.shared.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Looks `ip` up without a cache: reserved addresses locate nothing.
    pub fn locate(&self, ip: IpAddr) -> Located {
        locate(&self.current(), ip)
    }
}

/// Opens the databases. A reload reads every file again (a reader cannot be shared between two
/// sets; an unchanged file is usually still in the page cache), so the set in use is always one
/// consistent set.
fn load(paths: &GeoIpPaths) -> Result<Databases, GeoIpError> {
    let city = paths.city.as_deref().map(Database::open).transpose()?;
    let asn = match (&paths.asn, &paths.city) {
        (Some(a), Some(c)) if a == c => None,
        (Some(a), _) => Some(Database::open(a)?),
        (None, _) => None,
    };
    Ok(Databases { city, asn })
}

fn locate(dbs: &Databases, ip: IpAddr) -> Located {
    let mut out = Located::default();
    if is_reserved(ip) {
        return out;
    }
    if let Some(r) = dbs.city.as_ref().and_then(|d| d.lookup(ip)) {
        out = r.located();
    }
    if let Some(r) = dbs.asn.as_ref().and_then(|d| d.lookup(ip)) {
        let a = r.located();
        out.asn = out.asn.or(a.asn);
        out.org = out.org.or(a.org);
    }
    out
}

/// What happened to one event's origin, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrichment {
    /// Nothing was missing, or the event has no IP address.
    NotNeeded,
    /// A private or reserved address: nothing to look up.
    Reserved,
    /// Looked up (from the cache or the databases) and found.
    Found,
    /// Looked up; the databases do not know the address.
    NotFound,
}

/// Lookups of one [`Enricher`], for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnrichStats {
    /// Events whose origin was completed.
    pub found: u64,
    /// Events whose address the databases do not know.
    pub not_found: u64,
    /// Events from private or reserved addresses.
    pub reserved: u64,
    /// Lookups answered by the cache.
    pub cache_hits: u64,
    /// Lookups that went to the databases.
    pub cache_misses: u64,
}

/// One pipeline's enrichment: the shared databases behind a cache of its own.
#[derive(Debug)]
pub struct Enricher {
    geoip: GeoIp,
    dbs: Arc<Databases>,
    generation: u64,
    slots: Vec<Option<(IpAddr, Located)>>,
    hasher: std::collections::hash_map::RandomState,
    stats: EnrichStats,
}

impl Clone for Enricher {
    /// A new enricher on the same databases, with an empty cache and no counts.
    fn clone(&self) -> Enricher {
        self.geoip.enricher()
    }
}

impl GeoIp {
    /// A pipeline's enricher.
    pub fn enricher(&self) -> Enricher {
        let generation = self.shared.generation.load(Ordering::Acquire);
        Enricher {
            geoip: self.clone(),
            dbs: self.current(),
            generation,
            slots: vec![None; CACHE_SLOTS],
            hasher: std::collections::hash_map::RandomState::new(),
            stats: EnrichStats::default(),
        }
    }
}

impl Enricher {
    /// Fills what `origin` lacks (country, city, coordinates, ASN, organisation) from its IP
    /// address. Values the log itself carried are kept.
    pub fn enrich(&mut self, origin: &mut Origin<'_>) -> Enrichment {
        let Some(ip) = origin.ip else { return Enrichment::NotNeeded };
        let wants_geo = origin.country.is_none() || origin.geo.is_none() || origin.city.is_none();
        let wants_asn = origin.asn.is_none() || origin.org.is_none();
        if !wants_geo && !wants_asn {
            return Enrichment::NotNeeded;
        }
        if is_reserved(ip) {
            self.stats.reserved += 1;
            return Enrichment::Reserved;
        }
        let generation = self.geoip.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.generation = generation;
            self.dbs = self.geoip.current();
            self.slots.iter_mut().for_each(|s| *s = None);
        }
        let slot = (self.hasher.hash_one(HashIp(ip)) as usize) % CACHE_SLOTS;
        if matches!(&self.slots[slot], Some((cached, _)) if *cached == ip) {
            self.stats.cache_hits += 1;
        } else {
            self.stats.cache_misses += 1;
            self.slots[slot] = Some((ip, locate(&self.dbs, ip)));
        }
        let Some((_, located)) = &self.slots[slot] else { return Enrichment::NotFound };
        if *located == Located::default() {
            self.stats.not_found += 1;
            return Enrichment::NotFound;
        }
        if wants_geo {
            if origin.country.is_none() {
                origin.country = located.country;
            }
            if origin.geo.is_none() {
                origin.geo = located.geo;
            }
            if origin.city.is_none() {
                origin.city = located.city.as_deref().map(|c| Cow::Owned(c.to_owned()));
            }
        }
        if wants_asn {
            if origin.asn.is_none() {
                origin.asn = located.asn;
            }
            if origin.org.is_none() {
                origin.org = located.org.as_deref().map(|o| Cow::Owned(o.to_owned()));
            }
        }
        self.stats.found += 1;
        Enrichment::Found
    }

    /// Counts so far.
    pub fn stats(&self) -> EnrichStats {
        self.stats
    }

    /// Takes the counts, resetting them.
    pub fn take_stats(&mut self) -> EnrichStats {
        std::mem::take(&mut self.stats)
    }
}

/// Hashes an address by its bits only.
struct HashIp(IpAddr);

impl Hash for HashIp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0 {
            IpAddr::V4(v4) => state.write_u32(v4.to_bits()),
            IpAddr::V6(v6) => state.write_u128(v6.to_bits()),
        }
    }
}

/// True for addresses that locate nothing: private (RFC 1918, unique local), shared (CGNAT,
/// RFC 6598), loopback, link-local, documentation, benchmarking, multicast, unspecified and the
/// reserved 240/4; IPv4 inside IPv6 (mapped, NAT64 well-known prefix) is judged as IPv4.
pub fn is_reserved(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_reserved_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_reserved_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
                // 64:ff9b::/96, NAT64: the embedded IPv4 address is the real peer.
                return is_reserved_v4(Ipv4Addr::from_bits(v6.to_bits() as u32));
            }
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
                || v6 == Ipv6Addr::from_bits(0)
        }
    }
}

fn is_reserved_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || a == 0 // "this network" 0/8
        || (a == 100 && (b & 0xc0) == 64) // shared address space 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240 // reserved 240/4
}

/// A database record in either layout (see the module's documentation).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<CountryField<'a>>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
    city: Option<CityField>,
    location: Option<LocationField>,
    latitude: Option<Coordinate>,
    longitude: Option<Coordinate>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CountryField<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// `city` is `{"names":{"en":…}}` in MaxMind's layout and a plain name in the flat one.
#[derive(Deserialize)]
#[serde(untagged)]
enum CityField {
    Name(String),
    Names { names: std::collections::BTreeMap<String, String> },
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LocationField {
    latitude: Option<Coordinate>,
    longitude: Option<Coordinate>,
}

/// A coordinate stored as a double (MaxMind) or a float (ip-location-db): the reader hands each
/// over as it is stored and refuses to widen a float where a double is asked for.
#[derive(Clone, Copy)]
struct Coordinate(f64);

impl<'de> Deserialize<'de> for Coordinate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Coordinate, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Coordinate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f32<E>(self, v: f32) -> Result<Coordinate, E> {
                Ok(Coordinate(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Coordinate, E> {
                Ok(Coordinate(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Coordinate, E> {
                Ok(Coordinate(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Coordinate, E> {
                Ok(Coordinate(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

impl Record<'_> {
    fn located(self) -> Located {
        let country = self.country.and_then(|c| c.iso_code).or(self.country_code).and_then(Country::parse);
        let city = match self.city {
            Some(CityField::Name(n)) => Some(n),
            Some(CityField::Names { mut names }) => names.remove("en").or_else(|| names.into_values().next()),
            None => None,
        }
        .filter(|c| !c.is_empty())
        .map(Arc::from);
        let (lat, lon) = match self.location {
            Some(LocationField { latitude: Some(lat), longitude: Some(lon) }) => (Some(lat), Some(lon)),
            _ => (self.latitude, self.longitude),
        };
        let geo = lat.zip(lon).and_then(|(lat, lon)| GeoPoint::new(lat.0, lon.0));
        Located {
            country,
            city,
            geo,
            asn: self.autonomous_system_number.filter(|a| *a != 0),
            org: self.autonomous_system_organization.filter(|o| !o.is_empty()).map(Arc::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ranges_are_recognised() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_reserved(a.parse().unwrap()), "{a} should be reserved");
        }
        for a in
            ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::808:808"]
        {
            assert!(!is_reserved(a.parse().unwrap()), "{a} is public");
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = GeoIp::open(GeoIpPaths { city: Some("/nonexistent/city.mmdb".into()), asn: None }).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/city.mmdb"), "{e}");
        let dir = std::env::temp_dir().join(format!("credence-geoip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bogus = dir.join("bogus.mmdb");
        std::fs::write(&bogus, b"not a database").unwrap();
        let e = GeoIp::open(GeoIpPaths { city: None, asn: Some(bogus.clone()) }).unwrap_err();
        assert!(matches!(e, GeoIpError::Format { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
