//! Regenerate `screenshots/*.svg` from the real drawing code on the
//! simulator: `cargo run -p patchscope-ui --example screenshots [DIR]`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../screenshots"));
    // The revert picture writes to the simulator: keep its audit line quiet.
    kmod_bridge::audit::capture();
    for path in patchscope_ui::screenshots::generate(&dir)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
