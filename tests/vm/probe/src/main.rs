//! `ps-probe`: one snapshot of kmod-bridge's Linux source, as `status --json`.
use kmod_bridge::source::Source;
use kmod_bridge::source::linux::{LinuxConfig, LinuxSource};

fn main() {
    let mut src = match LinuxSource::open(LinuxConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ps-probe: {e}");
            std::process::exit(1);
        }
    };
    match src.snapshot() {
        Ok(snap) => match serde_json::to_string_pretty(&snap) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("ps-probe: {e}");
                std::process::exit(1);
            }
        },
        Err(e) => {
            eprintln!("ps-probe: {e}");
            std::process::exit(1);
        }
    }
}
