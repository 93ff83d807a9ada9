//! patchscope's Prometheus exporter: the collector that turns a live-patch
//! [`Snapshot`] into `livepatch_*` metrics, the HTTP(S) server of
//! `patchscope exporter`, and the text rendering of the node_exporter
//! textfile mode (`patchscope status --format prometheus`).
//!
//! Design, after Prometheus's "writing exporters" guide:
//!
//! * metrics are built from a fresh read of the kernel on every scrape
//!   ([`collector`]), never cached across scrapes and never timestamped;
//!   concurrent scrapes share one read ([`scrape`], single flight);
//! * a failed read still answers, with `livepatch_scrape_success 0` and a
//!   log line ([`log`]), and the next scrape opens the source again;
//! * the exporter keeps one [`Watch`] fed by its snapshots for the stall
//!   verdict (`livepatch_transition_stalled`), while every alert of the
//!   mixin can also be computed in PromQL from the raw series;
//! * the server ([`server`]) has node_exporter's flags and endpoints and
//!   reads exporter-toolkit's web config file ([`webconfig`]: TLS, basic
//!   auth with bcrypt hashes);
//! * it never writes to the kernel: nothing here calls
//!   [`kmod_bridge::Source::plan`] or [`kmod_bridge::Source::execute`].
//!
//! Every metric is documented in `docs/metrics.md`. The monitoring mixin
//! (Grafana dashboard, alert rules and their `promtool` tests, runbook)
//! lives in `exporters/mixin/`.

// No panicking on external data: indexing and slicing that could go out
// of bounds are denied in library code (`get` instead); unit and
// integration tests are exempt. `unwrap_used` is denied workspace-wide.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::string_slice, clippy::panic)
)]

pub mod collector;
pub mod log;
pub mod scrape;
pub mod server;
pub mod webconfig;

use kmod_bridge::Snapshot;
use kmod_bridge::watch::Watch;

pub use collector::CollectorOptions;
pub use scrape::SourceOpener;
pub use server::{Exporter, ExporterError, ExporterOptions, run};

/// The metrics of one snapshot in the Prometheus text format, for the
/// node_exporter textfile collector (`patchscope status --format
/// prometheus`). `watch`, where the caller has one fed with earlier
/// snapshots, adds the stall verdict; without it the stall series are
/// absent. No `livepatch_exporter_events_total` (no history here).
pub fn render_text(snapshot: &Snapshot, watch: Option<&Watch>) -> String {
    render_text_with(snapshot, watch, None, CollectorOptions::default())
}

/// [`render_text`] with the read's duration and collector options.
pub fn render_text_with(
    snapshot: &Snapshot,
    watch: Option<&Watch>,
    read_seconds: Option<f64>,
    options: CollectorOptions,
) -> String {
    let fams = collector::families(&collector::Inputs {
        snapshot: Some(snapshot),
        watch,
        events: None,
        scrape: collector::ScrapeMeta {
            success: true,
            duration_seconds: read_seconds,
        },
        options,
    });
    encode_or_comment(&fams)
}

/// What the textfile mode writes when the source cannot be read:
/// `livepatch_scrape_success 0` (so the scrape-failing alert fires) and
/// the build info. The caller still reports the error and exits non-zero.
pub fn render_text_failed() -> String {
    let fams = collector::families(&collector::Inputs {
        snapshot: None,
        watch: None,
        events: None,
        scrape: collector::ScrapeMeta {
            success: false,
            duration_seconds: None,
        },
        options: CollectorOptions::default(),
    });
    encode_or_comment(&fams)
}

fn encode_or_comment(fams: &[prometheus::proto::MetricFamily]) -> String {
    collector::encode(fams).unwrap_or_else(|e| {
        format!(
            "# patchscope: encoding metrics failed: {}\n",
            e.to_string().replace('\n', " ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textfile_mode_renders_a_snapshot_and_a_failure() {
        let s = collector::tests::sample_snapshot(100.0);
        let t = render_text(&s, None);
        assert!(t.contains("livepatch_scrape_success 1"));
        assert!(t.contains("livepatch_transition_in_progress 1"));
        assert!(!t.contains("livepatch_exporter_events_total"));
        assert!(!t.contains("livepatch_transition_stalled"));
        let f = render_text_failed();
        assert!(f.contains("livepatch_scrape_success 0"));
        assert!(!f.contains("livepatch_transition"));
    }
}
