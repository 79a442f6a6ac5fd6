//! The synthetic traffic both benchmarks generate: a few operations of three services, and the
//! home cities credentials call from. Shared so that the engine and load benchmarks measure the
//! same kind of records.

/// 2026-03-02T00:00:00Z: where synthetic histories start.
pub const START_MS: i64 = 1_772_409_600_000;

/// Operations: (operation, HTTP method, service).
pub const OPS: [(&str, &str, &str); 6] = [
    ("GET /v1/orders/{id}", "GET", "orders-api"),
    ("GET /v1/orders", "GET", "orders-api"),
    ("POST /v1/orders", "POST", "orders-api"),
    ("GET /v1/customers/{id}", "GET", "customers-api"),
    ("PUT /v1/customers/{id}", "PUT", "customers-api"),
    ("GET /v1/catalog/items", "GET", "catalog-api"),
];

/// Home cities: (country, city, latitude, longitude, ASN).
pub const CITIES: [(&str, &str, f64, f64, u32); 4] = [
    ("US", "Ashburn", 39.04, -77.49, 14618),
    ("DE", "Frankfurt", 50.11, 8.68, 16509),
    ("GB", "London", 51.51, -0.13, 8075),
    ("JP", "Tokyo", 35.68, 139.69, 2516),
];
