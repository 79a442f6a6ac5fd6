//! A small built-in world: cities with coordinates and time zones, the autonomous systems seen
//! there (residential and business ISPs, mobile carriers, clouds, hosting providers), and a
//! synthetic address plan that gives every AS its own prefixes.
//!
//! AS numbers are those of real, well-known networks so the data looks familiar; the addresses
//! are synthetic public-looking prefixes allocated per run and are *not* the networks' real
//! allocations. Records carry their own geo/AS enrichment, so nothing needs a real GeoIP database.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use credence_event::GeoPoint;
use rand::Rng;

/// A city: where requests come from.
#[derive(Debug)]
pub struct City {
    /// City name.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// Latitude, degrees.
    pub lat: f32,
    /// Longitude, degrees.
    pub lon: f32,
    /// Standard-time UTC offset in minutes (daylight saving is ignored).
    pub tz_min: i16,
    /// Residential and business ISPs.
    pub isp: &'static [u32],
    /// Mobile carriers.
    pub mobile: &'static [u32],
    /// Large clouds with a region here (AWS, Google, Azure, Oracle).
    pub cloud: &'static [u32],
    /// VPS and hosting providers (and VPN exits).
    pub hosting: &'static [u32],
}

impl City {
    /// The city's coordinates.
    pub fn geo(&self) -> GeoPoint {
        GeoPoint { lat: self.lat, lon: self.lon }
    }
}

macro_rules! city {
    ($n:expr, $c:expr, $lat:expr, $lon:expr, $tz:expr, $isp:expr, $mob:expr, $cloud:expr, $host:expr) => {
        City {
            name: $n,
            country: $c,
            lat: $lat,
            lon: $lon,
            tz_min: $tz,
            isp: &$isp,
            mobile: &$mob,
            cloud: &$cloud,
            hosting: &$host,
        }
    };
}

// AWS 16509 / 14618, Google 15169 / 396982, Azure 8075, Oracle 31898, Alibaba 45102;
// DigitalOcean 14061, Hetzner 24940, OVH 16276, Linode 63949, Vultr 20473, Leaseweb 60781, M247 9009.
/// The built-in city table.
pub static CITIES: &[City] = &[
    city!(
        "Ashburn",
        "US",
        39.04,
        -77.49,
        -300,
        [7922, 701],
        [22394, 21928],
        [14618, 16509, 8075, 15169],
        [14061, 20473]
    ),
    city!(
        "New York",
        "US",
        40.71,
        -74.01,
        -300,
        [7922, 701, 20115],
        [22394, 21928, 20057],
        [16509],
        [14061, 20473, 9009]
    ),
    city!("Chicago", "US", 41.88, -87.63, -360, [7922, 7018], [22394, 20057], [8075], [20473]),
    city!("San Francisco", "US", 37.77, -122.42, -480, [7922, 7018], [21928, 20057], [15169, 16509], [14061, 63949]),
    city!("Seattle", "US", 47.61, -122.33, -480, [7922, 20115], [21928, 22394], [16509, 8075], [20473]),
    city!("Toronto", "CA", 43.65, -79.38, -300, [812, 577], [812, 852], [16509], [14061, 16276]),
    city!("Mexico City", "MX", 19.43, -99.13, -360, [8151], [28403, 11172], [], []),
    city!("Sao Paulo", "BR", -23.55, -46.63, -180, [27699, 28573], [26615, 27699], [16509, 15169], [20473]),
    city!("Buenos Aires", "AR", -34.60, -58.38, -180, [7303, 22927], [7303, 27747], [], []),
    city!(
        "London",
        "GB",
        51.51,
        -0.13,
        0,
        [2856, 5089, 5607],
        [12576, 25135, 35228],
        [16509, 8075],
        [14061, 9009, 20473]
    ),
    city!("Dublin", "IE", 53.35, -6.26, 0, [5466, 6830], [15502, 13280], [16509, 8075], [9009]),
    city!("Paris", "FR", 48.86, 2.35, 60, [3215, 12322], [15557, 5410, 3215], [16509], [16276, 9009]),
    city!("Frankfurt", "DE", 50.11, 8.68, 60, [3320, 3209], [3320, 6805], [16509, 15169, 8075], [24940, 14061, 63949]),
    city!("Berlin", "DE", 52.52, 13.40, 60, [3320, 8881], [3209, 6805], [], [24940]),
    city!("Amsterdam", "NL", 52.37, 4.90, 60, [1136, 33915], [50266, 1136], [8075], [60781, 14061, 9009, 20473]),
    city!("Stockholm", "SE", 59.33, 18.07, 60, [3301, 1257], [3301, 1257], [16509], [9009]),
    city!("Madrid", "ES", 40.42, -3.70, 60, [3352, 12479], [12430, 3352], [], [16276]),
    city!("Milan", "IT", 45.46, 9.19, 60, [3269, 1267], [30722, 1267], [16509], [16276]),
    city!("Warsaw", "PL", 52.23, 21.01, 60, [5617, 12912], [39603, 12912], [15169], [24940]),
    city!("Bucharest", "RO", 44.43, 26.10, 120, [8708], [12302, 8708], [], [9009, 16276]),
    city!("Tel Aviv", "IL", 32.09, 34.78, 120, [8551], [12400, 1680], [], []),
    city!("Johannesburg", "ZA", -26.20, 28.05, 120, [37457], [29975, 16637], [], []),
    city!("Lagos", "NG", 6.52, 3.38, 60, [37148], [29465, 36873], [], []),
    city!("Moscow", "RU", 55.76, 37.62, 180, [12389, 8359], [8359, 3216, 31133], [], [9009]),
    city!("Istanbul", "TR", 41.01, 28.98, 180, [9121], [16135, 15924], [], []),
    city!("Dubai", "AE", 25.20, 55.27, 240, [5384], [5384, 15802], [], []),
    city!("Mumbai", "IN", 19.08, 72.88, 330, [9498, 9829], [55836, 9498, 38266], [16509], [14061]),
    city!("Bangalore", "IN", 12.97, 77.59, 330, [9498, 24560], [55836, 38266], [], [14061]),
    city!("Singapore", "SG", 1.35, 103.82, 480, [7473, 4657], [7473, 17547], [16509, 15169], [14061, 20473, 63949]),
    city!("Ho Chi Minh City", "VN", 10.82, 106.63, 420, [7552, 18403], [7552, 45899], [], []),
    city!("Jakarta", "ID", -6.21, 106.85, 420, [7713], [23693, 4761], [], []),
    city!("Hong Kong", "HK", 22.32, 114.17, 480, [4760, 9304], [9231, 4760], [45102], [9009]),
    city!("Tokyo", "JP", 35.68, 139.69, 540, [4713, 2516], [9605, 2516, 17676], [16509, 31898], [20473, 63949]),
    city!("Seoul", "KR", 37.57, 126.98, 540, [4766, 9318], [9644, 17858], [], []),
    city!("Sydney", "AU", -33.87, 151.21, 600, [1221, 4804, 7545], [1221, 4804, 133612], [16509], [20473]),
];

/// Looks a city up by name; panics on an unknown name (tables are static).
pub(crate) fn city_index(name: &str) -> u16 {
    CITIES.iter().position(|c| c.name == name).unwrap_or_else(|| panic!("unknown city {name}")) as u16
}

/// Indices of the cities in `country`.
pub(crate) fn cities_in(country: &str) -> Vec<u16> {
    (0..CITIES.len() as u16).filter(|&i| CITIES[usize::from(i)].country == country).collect()
}

/// The address plan of one run: for every AS in the table, a few IPv4 /16s and an IPv6 /32.
#[derive(Debug, Clone)]
pub(crate) struct Networks {
    v4: HashMap<u32, Vec<[u8; 2]>>,
    v6: HashMap<u32, [u16; 2]>,
}

fn public_first_octet(rng: &mut impl Rng) -> u8 {
    loop {
        let a: u8 = rng.gen_range(2..=223);
        // Skip private, loopback, link-local, CGNAT, multicast and documentation-heavy octets.
        if !matches!(a, 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203) {
            return a;
        }
    }
}

impl Networks {
    pub(crate) fn allocate(rng: &mut impl Rng) -> Networks {
        let mut asns: Vec<u32> = Vec::new();
        for c in CITIES {
            for &a in c.isp.iter().chain(c.mobile).chain(c.cloud).chain(c.hosting) {
                if !asns.contains(&a) {
                    asns.push(a);
                }
            }
        }
        let mut used = HashSet::new();
        let mut used6 = HashSet::new();
        let (mut v4, mut v6) = (HashMap::new(), HashMap::new());
        for asn in asns {
            let big = [16509, 14618, 8075, 15169, 7922, 21928, 22394].contains(&asn);
            let n = if big { 8 } else { 3 };
            let mut blocks = Vec::with_capacity(n);
            while blocks.len() < n {
                let b = [public_first_octet(rng), rng.gen()];
                if used.insert(b) {
                    blocks.push(b);
                }
            }
            v4.insert(asn, blocks);
            loop {
                let p = [0x2400 + rng.gen_range(0..0x0c00), rng.gen()];
                if used6.insert(p) {
                    v6.insert(asn, p);
                    break;
                }
            }
        }
        Networks { v4, v6 }
    }

    fn blocks(&self, asn: u32) -> &[[u8; 2]] {
        self.v4.get(&asn).map_or(&[[203, 0]][..], Vec::as_slice)
    }

    /// A random /24 (as its first three octets) inside `asn`.
    pub(crate) fn subnet(&self, asn: u32, rng: &mut impl Rng) -> [u8; 3] {
        let blocks = self.blocks(asn);
        let [a, b] = blocks[rng.gen_range(0..blocks.len())];
        [a, b, rng.gen()]
    }

    /// A random host address in a /24.
    pub(crate) fn host_in(subnet: [u8; 3], rng: &mut impl Rng) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(subnet[0], subnet[1], subnet[2], rng.gen_range(1..=254)))
    }

    /// A random IPv4 address inside `asn`.
    pub(crate) fn v4(&self, asn: u32, rng: &mut impl Rng) -> IpAddr {
        Networks::host_in(self.subnet(asn, rng), rng)
    }

    /// A random IPv6 address in a random /64 inside `asn`'s /32.
    pub(crate) fn v6(&self, asn: u32, rng: &mut impl Rng) -> IpAddr {
        let p = self.v6.get(&asn).copied().unwrap_or([0x2001, 0x0db8]);
        let r: u64 = rng.gen();
        let s: u64 = rng.gen();
        IpAddr::V6(Ipv6Addr::new(
            p[0],
            p[1],
            (r >> 48) as u16,
            (r >> 32) as u16,
            (s >> 48) as u16,
            (s >> 32) as u16,
            (s >> 16) as u16,
            s as u16,
        ))
    }

    /// A stable address for a key (a home router's lease): the same inputs give the same address.
    pub(crate) fn stable_v4(&self, asn: u32, key: u64) -> IpAddr {
        let h = crate::text::mix64(key);
        let blocks = self.blocks(asn);
        let [a, b] = blocks[(h % blocks.len() as u64) as usize];
        IpAddr::V4(Ipv4Addr::new(a, b, (h >> 16) as u8, 1 + ((h >> 24) % 254) as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn table_is_consistent() {
        for c in CITIES {
            assert!(GeoPoint::new(f64::from(c.lat), f64::from(c.lon)).is_some(), "{}", c.name);
            assert!(!c.isp.is_empty() && !c.mobile.is_empty(), "{}", c.name);
            assert_eq!(c.country.len(), 2);
        }
        assert!(CITIES.len() >= 30);
        assert_eq!(CITIES[usize::from(city_index("Tokyo"))].country, "JP");
    }

    #[test]
    fn addresses_are_public_and_per_asn() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let nets = Networks::allocate(&mut rng);
        for _ in 0..1000 {
            let IpAddr::V4(ip) = nets.v4(16509, &mut rng) else { panic!() };
            assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_documentation());
        }
        assert_eq!(nets.stable_v4(7922, 5), nets.stable_v4(7922, 5));
    }
}
