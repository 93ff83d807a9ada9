//! `patchscope exporter`: wiring of the Prometheus exporter (being written).

use std::path::PathBuf;

use clap::Args;

use crate::cli::SourceArgs;

/// `exporter` options (node_exporter-style flags).
#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Address to listen on; repeat for several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_values_t = [String::from(":9879")])]
    pub listen_address: Vec<String>,
    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,
    /// exporter-toolkit web configuration file (TLS, basic auth).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
}

/// Run the exporter until stopped.
pub fn run_exporter(_args: &ExporterArgs) -> anyhow::Result<()> {
    anyhow::bail!("the exporter is not built yet")
}

/// Render a snapshot as Prometheus text for node_exporter's textfile
/// collector (`status --format prometheus`).
pub fn render_textfile(_snap: &kmod_bridge::Snapshot) -> anyhow::Result<String> {
    anyhow::bail!("the Prometheus text format is not built yet")
}
