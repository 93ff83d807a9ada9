//! `patchscope exporter`: the Prometheus exporter's flags (named as
//! node_exporter names them) and their wiring to
//! [`patchscope_exporters`]; and the textfile rendering of
//! `status --format prometheus`. Metrics and flags are documented in
//! `docs/metrics.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kmod_bridge::watch::WatchConfig;
use patchscope_exporters::server as srv;
use patchscope_exporters::{CollectorOptions, ExporterOptions};

use crate::cli::{SourceArgs, parse_duration};

/// `exporter` options (node_exporter-style flags).
#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Source selection.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Address to listen on: `:PORT` (every interface), `HOST:PORT` or
    /// `[IPV6]:PORT`; repeat for several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_values_t = [String::from(srv::DEFAULT_LISTEN_ADDRESS)])]
    pub listen_address: Vec<String>,
    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = srv::DEFAULT_TELEMETRY_PATH
    )]
    pub telemetry_path: String,
    /// exporter-toolkit web configuration file (TLS, basic auth).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Concurrent scrapes served; more get 503. 0: no limit.
    #[arg(long = "web.max-requests", value_name = "N", default_value_t = srv::DEFAULT_MAX_REQUESTS)]
    pub max_requests: usize,
    /// Time a client has to send its request headers (and finish TLS).
    #[arg(long = "web.read-header-timeout", value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub read_header_timeout: Duration,
    /// Time a request may take in all (503 after it).
    #[arg(long = "web.request-timeout", value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// At most this many per-thread series (livepatch_blocked_thread_info).
    #[arg(long = "collector.blocked-threads.limit", value_name = "N", default_value_t = patchscope_exporters::collector::DEFAULT_BLOCKED_THREADS_LIMIT)]
    pub blocked_threads_limit: usize,
    /// A transition without progress for this long is reported as stalled.
    #[arg(long = "watch.stall-after", value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub stall_after: Duration,
}

/// Run the exporter until SIGINT or SIGTERM. It only ever reads the
/// source: no control is planned or executed here.
pub fn run_exporter(args: &ExporterArgs) -> anyhow::Result<()> {
    let source = args.source.clone();
    let opener: patchscope_exporters::SourceOpener = Arc::new(move || crate::open::open(&source));
    let opts = ExporterOptions {
        listen_addresses: args.listen_address.clone(),
        telemetry_path: args.telemetry_path.clone(),
        web_config_file: args.web_config_file.clone(),
        max_requests: args.max_requests,
        read_header_timeout: args.read_header_timeout,
        request_timeout: args.request_timeout,
        collector: CollectorOptions {
            blocked_threads_limit: args.blocked_threads_limit,
        },
        watch: WatchConfig {
            stall_after: args.stall_after,
            ..WatchConfig::default()
        },
    };
    patchscope_exporters::run(opts, opener)
}

/// Render a snapshot as Prometheus text for node_exporter's textfile
/// collector (`status --format prometheus`).
pub fn render_textfile(snap: &kmod_bridge::Snapshot) -> anyhow::Result<String> {
    Ok(patchscope_exporters::render_text(snap, None))
}

/// What `status --format prometheus` prints when the source cannot be
/// read (before exiting non-zero): `livepatch_scrape_success 0` and the
/// build info, so the textfile collector keeps a series the
/// LivepatchExporterScrapeFailing alert sees, instead of an empty file.
pub fn render_textfile_failed() -> String {
    patchscope_exporters::render_text_failed()
}
