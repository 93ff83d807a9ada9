//! Choosing and opening a source from its command-line form
//! (`auto|freebsd|linux|sim|dump:FILE`).
//!
//! `auto` picks FreeBSD when `kern.livepatch` exists, else Linux when
//! `<sysfs>/kernel/livepatch` exists, else fails with a message that names
//! what it looked for and suggests `patchscope demo`.

use std::path::PathBuf;

use crate::error::SourceError;
use crate::source::Source;
use crate::source::linux::{LinuxConfig, LinuxSource};

/// Simulator parameters as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimParams {
    /// Scenario name.
    pub scenario: String,
    /// Threads.
    pub threads: u64,
    /// Seed.
    pub seed: u64,
}

/// A source selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// Detect.
    Auto(LinuxConfig),
    /// FreeBSD `kern.livepatch`.
    Freebsd,
    /// Linux klp.
    Linux(LinuxConfig),
    /// Simulator.
    Sim(SimParams),
    /// `sysctl kern.livepatch` dump file.
    Dump(PathBuf),
}

/// Parse `--source` with the other source flags.
pub fn parse_spec(
    source: &str,
    paths: LinuxConfig,
    sim: SimParams,
) -> Result<SourceSpec, SourceError> {
    Ok(match source {
        "auto" => SourceSpec::Auto(paths),
        "freebsd" => SourceSpec::Freebsd,
        "linux" => SourceSpec::Linux(paths),
        "sim" => SourceSpec::Sim(sim),
        s => match s.strip_prefix("dump:") {
            Some("") => {
                return Err(SourceError::parse(
                    "--source",
                    "dump: needs a file, e.g. --source dump:livepatch.txt",
                ));
            }
            Some(file) => SourceSpec::Dump(file.into()),
            None => {
                return Err(SourceError::parse(
                    "--source",
                    format!("unknown source '{s}': use auto, freebsd, linux, sim or dump:FILE"),
                ));
            }
        },
    })
}

/// Open a source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, SourceError> {
    match spec {
        SourceSpec::Auto(cfg) => open_auto(cfg),
        SourceSpec::Freebsd => open_freebsd(),
        SourceSpec::Linux(cfg) => Ok(Box::new(LinuxSource::open(cfg.clone())?)),
        SourceSpec::Sim(p) => Ok(Box::new(super::sim::open(sim_config(p)?)?)),
        SourceSpec::Dump(file) => Ok(Box::new(super::dump::open(file)?)),
    }
}

/// The simulator configuration for command-line parameters (real clock).
pub fn sim_config(p: &SimParams) -> Result<super::sim::SimConfig, SourceError> {
    let scenario: super::sim::Scenario = p.scenario.parse().map_err(|_| {
        let names: Vec<&str> = super::sim::Scenario::ALL.iter().map(|s| s.name()).collect();
        SourceError::parse(
            "--scenario",
            format!(
                "unknown scenario '{}': use one of {}",
                p.scenario,
                names.join(", ")
            ),
        )
    })?;
    Ok(super::sim::SimConfig {
        scenario,
        threads: p.threads,
        seed: p.seed,
        ..super::sim::SimConfig::default()
    })
}

#[cfg(target_os = "freebsd")]
fn open_freebsd() -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(super::freebsd::os::open()?))
}

#[cfg(not(target_os = "freebsd"))]
fn open_freebsd() -> Result<Box<dyn Source>, SourceError> {
    Err(SourceError::Unavailable {
        source_kind: "freebsd",
        why: "kern.livepatch is a FreeBSD sysctl; to read a capture from a FreeBSD host use --source dump:FILE".into(),
    })
}

fn open_auto(cfg: &LinuxConfig) -> Result<Box<dyn Source>, SourceError> {
    #[cfg(target_os = "freebsd")]
    {
        match super::freebsd::os::open() {
            Ok(s) => return Ok(Box::new(s)),
            Err(SourceError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if LinuxSource::available(cfg) {
        return Ok(Box::new(LinuxSource::open(cfg.clone())?));
    }
    let klp = cfg.sysfs.join("kernel/livepatch");
    Err(SourceError::NotFound {
        looked_for: format!(
            "neither sysctl kern.livepatch (FreeBSD) nor {} (Linux livepatch) exists",
            klp.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> SimParams {
        SimParams {
            scenario: "stalled".into(),
            threads: 10,
            seed: 1,
        }
    }

    #[test]
    fn parses_every_source_form() {
        let p = LinuxConfig::default();
        assert_eq!(
            parse_spec("auto", p.clone(), sim()).ok(),
            Some(SourceSpec::Auto(p.clone()))
        );
        assert_eq!(
            parse_spec("sim", p.clone(), sim()).ok(),
            Some(SourceSpec::Sim(sim()))
        );
        assert_eq!(
            parse_spec("dump:/tmp/x.txt", p.clone(), sim()).ok(),
            Some(SourceSpec::Dump("/tmp/x.txt".into()))
        );
        assert!(parse_spec("dump:", p.clone(), sim()).is_err());
        let err = parse_spec("solaris", p, sim())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("use auto, freebsd, linux, sim or dump:FILE"),
            "{err}"
        );
    }

    #[test]
    fn auto_without_any_interface_names_what_it_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let paths = LinuxConfig {
            sysfs: dir.path().to_path_buf(),
            procfs: dir.path().to_path_buf(),
            kmsg: None,
        };
        let err = open(&SourceSpec::Auto(paths))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("kernel/livepatch"), "{err}");
        assert!(err.contains("patchscope demo"), "{err}");
    }

    #[test]
    fn unknown_scenario_lists_the_known_ones() {
        let err = sim_config(&SimParams {
            scenario: "nope".into(),
            threads: 1,
            seed: 1,
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("stalled"), "{err}");
    }
}
