//! OCSF schema validation (being written).
