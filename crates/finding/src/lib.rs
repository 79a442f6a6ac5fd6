//! OCSF Detection Findings: building them from verdicts, and checking them against the schema.

pub mod schema;
