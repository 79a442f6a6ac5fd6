//! Writes a simulated stream to a directory.
//!
//! `cargo run --release -p credence-sim --example simulate -- OUT_DIR [small|default]`

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "sim-out".to_owned());
    let cfg = match args.next().as_deref() {
        Some("small") => credence_sim::SimConfig::small(),
        _ => credence_sim::SimConfig::default(),
    };
    let t = std::time::Instant::now();
    let stats = credence_sim::write_dir(&cfg, std::path::Path::new(&dir))?;
    println!("{} in {:?}", serde_json::to_string(&stats).unwrap_or_default(), t.elapsed());
    Ok(())
}
