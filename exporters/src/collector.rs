//! Metric families built from one [`Snapshot`] (and the exporter's
//! [`Watch`]), freshly on every scrape.
//!
//! Nothing here keeps metric state between scrapes: every call of
//! [`families`] turns the snapshot into new metric families, so a patch or
//! thread that vanished is simply not exported any more (no stale series).
//! The only counters that live in the exporter are the watch event counts
//! ([`EventCounts`]), which are counts of what this exporter process saw.
//!
//! Every metric is documented in `docs/metrics.md`; a unit test checks that
//! the document names every family this module can produce.

use std::collections::BTreeMap;

use kmod_bridge::model::{BlockedThread, PatchState, Snapshot};
use kmod_bridge::sanitize;
use kmod_bridge::watch::{EventKind, Watch};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

/// Prefix of every metric name.
pub const PREFIX: &str = "livepatch_";

/// Label value for blocked threads whose blocking function is not known
/// (no readable stack, or no patched function on it). Parentheses cannot
/// occur in a kernel symbol, so this never collides with a real function.
pub const UNKNOWN_FUNCTION: &str = "(unknown)";

/// Default of `--collector.blocked-threads.limit`.
pub const DEFAULT_BLOCKED_THREADS_LIMIT: usize = 20;

/// Options of the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorOptions {
    /// At most this many `livepatch_blocked_thread_info` series per scrape
    /// (the threads blocked longest come first). Per-function counts
    /// always cover every thread.
    pub blocked_threads_limit: usize,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        Self {
            blocked_threads_limit: DEFAULT_BLOCKED_THREADS_LIMIT,
        }
    }
}

/// Every watch event kind, in a fixed order (counters are initialised to 0
/// for all of them, so `increase()` works from the first event on).
pub const EVENT_KINDS: [EventKind; 11] = [
    EventKind::PatchLoaded,
    EventKind::PatchRemoved,
    EventKind::TransitionStarted,
    EventKind::TransitionCompleted,
    EventKind::TransitionReversed,
    EventKind::TransitionForced,
    EventKind::TransitionStalled,
    EventKind::ControlSucceeded,
    EventKind::ControlFailed,
    EventKind::SourceFailed,
    EventKind::SourceRecovered,
];

/// The `kind` label value of an event (same spelling as the JSON events).
pub fn event_kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::PatchLoaded => "patch_loaded",
        EventKind::PatchRemoved => "patch_removed",
        EventKind::TransitionStarted => "transition_started",
        EventKind::TransitionCompleted => "transition_completed",
        EventKind::TransitionReversed => "transition_reversed",
        EventKind::TransitionForced => "transition_forced",
        EventKind::TransitionStalled => "transition_stalled",
        EventKind::ControlSucceeded => "control_succeeded",
        EventKind::ControlFailed => "control_failed",
        EventKind::SourceFailed => "source_failed",
        EventKind::SourceRecovered => "source_recovered",
    }
}

/// How many events of each kind the exporter's watch has produced since
/// the exporter started (the watch itself keeps only a bounded window).
#[derive(Debug, Clone, Default)]
pub struct EventCounts {
    counts: [u64; EVENT_KINDS.len()],
    /// The newest event already counted. The watch's event list is capped,
    /// so its length cannot tell what is new once it is full.
    last_counted: Option<kmod_bridge::watch::Event>,
}

impl EventCounts {
    /// Count the events `watch` recorded since the last call.
    pub fn sync(&mut self, watch: &Watch) {
        let events = watch.events();
        let start = self
            .last_counted
            .as_ref()
            .and_then(|m| events.iter().rposition(|e| e == m))
            .map_or(0, |i| i + 1);
        for e in events.iter().skip(start) {
            self.add(e.kind);
        }
        self.last_counted = events.back().cloned();
    }

    /// Count one event.
    pub fn add(&mut self, kind: EventKind) {
        if let Some(i) = EVENT_KINDS.iter().position(|k| *k == kind)
            && let Some(c) = self.counts.get_mut(i)
        {
            *c += 1;
        }
    }

    /// Events of `kind` counted so far.
    pub fn get(&self, kind: EventKind) -> u64 {
        EVENT_KINDS
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.counts.get(i).copied())
            .unwrap_or(0)
    }
}

/// Facts about the scrape itself.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeMeta {
    /// Whether reading the source succeeded.
    pub success: bool,
    /// How long reading the source took, where measured.
    pub duration_seconds: Option<f64>,
}

/// What the families are built from.
pub struct Inputs<'a> {
    /// The snapshot, `None` when reading the source failed.
    pub snapshot: Option<&'a Snapshot>,
    /// The exporter's watch (already fed with `snapshot`); `None` in
    /// textfile mode without history.
    pub watch: Option<&'a Watch>,
    /// Watch event counts (exporter mode only).
    pub events: Option<&'a EventCounts>,
    /// The scrape.
    pub scrape: ScrapeMeta,
    /// Collector options.
    pub options: CollectorOptions,
}

/// Build all metric families for one scrape.
pub fn families(inp: &Inputs<'_>) -> Vec<MetricFamily> {
    let mut b = Builder::default();
    b.gauge(
        "scrape_success",
        "Whether the last read of the live-patch source succeeded (1) or failed (0).",
        &[],
        bool_f(inp.scrape.success),
    );
    if let Some(d) = inp.scrape.duration_seconds {
        b.gauge(
            "scrape_duration_seconds",
            "Time the last read of the live-patch source took.",
            &[],
            d,
        );
    }
    b.gauge(
        "exporter_build_info",
        "Build of the patchscope exporter; always 1.",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    if let Some(ev) = inp.events {
        for kind in EVENT_KINDS {
            b.counter(
                "exporter_events_total",
                "Live-patch events (transition started, completed, reversed, forced, stalled; patch loaded, removed; source failed, recovered) seen by this exporter since it started.",
                &[("kind", event_kind_name(kind))],
                ev.get(kind) as f64,
            );
        }
    }
    if let Some(w) = inp.watch {
        b.gauge(
            "exporter_stall_threshold_seconds",
            "A transition without progress for this long is reported as stalled (--watch.stall-after).",
            &[],
            w.config().stall_after.as_secs_f64(),
        );
    }
    if let Some(snap) = inp.snapshot {
        snapshot_families(&mut b, snap, inp.watch, inp.options);
    }
    b.finish()
}

fn snapshot_families(
    b: &mut Builder,
    snap: &Snapshot,
    watch: Option<&Watch>,
    opts: CollectorOptions,
) {
    b.gauge(
        "source_info",
        "The live-patch source and kernel that were read; always 1.",
        &[
            ("source", snap.source.kind.as_str()),
            ("kernel_os", &snap.kernel.os),
            (
                "kernel_release",
                snap.kernel.release.as_deref().unwrap_or(""),
            ),
            (
                "abi_version",
                snap.kernel.abi_version.as_deref().unwrap_or(""),
            ),
        ],
        1.0,
    );
    b.gauge(
        "snapshot_limitations",
        "Number of things the last read could not see (for example stacks that need root, or tasks without a /proc entry); 0 means the view is complete.",
        &[],
        snap.limitations.len() as f64,
    );

    patch_families(b, snap);
    transition_families(b, snap, watch);
    blocked_families(b, snap, watch, opts);

    if let Some(c) = &snap.counters {
        b.counter(
            "transitions_completed_total",
            "Transitions that reached their target since the kernel booted (kernel counter).",
            &[],
            c.transitions_completed as f64,
        );
        b.counter(
            "transitions_reversed_total",
            "Transitions reversed before completing since the kernel booted (kernel counter).",
            &[],
            c.transitions_reversed as f64,
        );
        b.counter(
            "transitions_forced_total",
            "Transitions completed by force since the kernel booted (kernel counter); any forced transition means a reboot is advised.",
            &[],
            c.transitions_forced as f64,
        );
        b.counter(
            "signals_sent_total",
            "Fake signals sent to threads blocking a transition since the kernel booted (kernel counter).",
            &[],
            c.signals_sent as f64,
        );
    }
}

fn patch_families(b: &mut Builder, snap: &Snapshot) {
    const STATES: [PatchState; 4] = [
        PatchState::Disabled,
        PatchState::Enabled,
        PatchState::Patching,
        PatchState::Unpatching,
    ];
    for p in &snap.patches {
        let name = p.name.as_str();
        b.gauge(
            "patch_enabled",
            "Whether the kernel's enabled flag of the live patch is set (1) or not (0).",
            &[("patch", name)],
            bool_f(p.enabled),
        );
        for s in STATES {
            b.gauge(
                "patch_state",
                "State of the live patch: 1 for the current state, 0 for the others (disabled, enabled, patching, unpatching).",
                &[("patch", name), ("state", s.as_str())],
                bool_f(p.state == s),
            );
        }
        if let Some(r) = p.replace {
            b.gauge(
                "patch_replace",
                "Whether the live patch is cumulative and replaces all older ones (1) or not (0); absent where the kernel does not say.",
                &[("patch", name)],
                bool_f(r),
            );
        }
        if let Some(o) = p.stack_order {
            b.gauge(
                "patch_stack_order",
                "Position of the live patch in the stack of patches, 1 = oldest; absent where the kernel does not say.",
                &[("patch", name)],
                f64::from(o),
            );
        }
        if let Some(s) = p.signed {
            b.gauge(
                "patch_signed",
                "Whether the live patch's module carries a valid signature (1) or not (0), with the signing key where known; absent where unknown.",
                &[("patch", name), ("signer", p.signer.as_deref().unwrap_or(""))],
                bool_f(s),
            );
        }
        if let Some(t) = p.loaded_at {
            b.gauge(
                "patch_loaded_timestamp_seconds",
                "When the live patch was loaded, as a Unix timestamp; absent where unknown.",
                &[("patch", name)],
                t,
            );
        }
        b.gauge(
            "patch_functions",
            "Number of kernel functions the live patch replaces.",
            &[("patch", name)],
            p.function_count() as f64,
        );
        for o in &p.objects {
            if let Some(patched) = o.patched {
                b.gauge(
                    "patch_object_patched",
                    "Whether the functions of this object (vmlinux/kernel or a module) are patched now (1) or not (0); absent where the kernel does not say.",
                    &[("patch", name), ("object", &o.name)],
                    bool_f(patched),
                );
            }
            for f in &o.functions {
                if let Some(calls) = f.calls {
                    b.counter(
                        "patch_function_calls_total",
                        "Calls of the replacement function, where the source counts them.",
                        &[("patch", name), ("object", &o.name), ("function", &f.name)],
                        calls as f64,
                    );
                }
            }
        }
    }
}

fn transition_families(b: &mut Builder, snap: &Snapshot, watch: Option<&Watch>) {
    b.gauge(
        "transition_in_progress",
        "Whether a live-patch transition is in progress (1) or the kernel is idle (0).",
        &[],
        bool_f(snap.transition.is_some()),
    );
    let Some(t) = &snap.transition else {
        return;
    };
    let labels = [("patch", t.patch.as_str()), ("target", t.target.as_str())];
    let status = watch
        .and_then(|w| w.transition())
        .filter(|s| s.patch == t.patch && s.target == t.target);
    b.gauge(
        "transition_info",
        "The transition in progress: its patch, target (patched or unpatched) and how its start time is known (kernel, kernel_log, first_seen); always 1.",
        &[
            ("patch", t.patch.as_str()),
            ("target", t.target.as_str()),
            ("start_source", start_source_name(t.started_at_source)),
        ],
        1.0,
    );
    // Start time from the kernel where known, else from the watch's
    // elapsed time (first sight), so the series is there in every
    // transition and `time() - start` always works.
    let start = t
        .started_at
        .or_else(|| status.map(|s| snap.taken_at - s.elapsed_seconds));
    if let Some(start) = start {
        b.gauge(
            "transition_start_timestamp_seconds",
            "When the transition in progress started, as a Unix timestamp (from the kernel, its log, or first sight by the exporter).",
            &labels,
            start,
        );
    }
    b.gauge(
        "transition_threads",
        "Threads taking part in the transition in progress (that the source can see).",
        &labels,
        t.threads_total as f64,
    );
    b.gauge(
        "transition_threads_pending",
        "Threads of the transition in progress not yet moved to its target.",
        &labels,
        t.threads_pending as f64,
    );
    b.gauge(
        "transition_forced",
        "Whether the transition in progress was forced (1) or not (0).",
        &labels,
        bool_f(t.forced),
    );
    if let Some(n) = t.signals_sent {
        b.gauge(
            "transition_signals_sent",
            "Fake signals sent to blocked threads during the transition in progress.",
            &labels,
            n as f64,
        );
    }
    if let Some(s) = status {
        b.gauge(
            "transition_stalled",
            "The exporter's stall verdict: 1 when no thread moved for --watch.stall-after (see livepatch_exporter_stall_threshold_seconds), else 0.",
            &labels,
            bool_f(s.stalled),
        );
        b.gauge(
            "transition_last_progress_timestamp_seconds",
            "When the number of pending threads last went down (or the transition started), as a Unix timestamp, as seen by the exporter.",
            &labels,
            snap.taken_at - s.seconds_since_progress,
        );
    }
}

fn blocked_families(
    b: &mut Builder,
    snap: &Snapshot,
    watch: Option<&Watch>,
    opts: CollectorOptions,
) {
    // Counts per blocking function cover every thread; sanitised keys so
    // two raw names that display the same are one series (no duplicates).
    let mut per_fn: BTreeMap<String, u64> = BTreeMap::new();
    for t in &snap.blocked_threads {
        *per_fn.entry(label_value(function_of(t))).or_default() += 1;
    }
    for (func, n) in &per_fn {
        b.gauge(
            "blocked_threads",
            "Threads blocking the transition in progress, by the patched function they sleep in ((unknown) when the stack is unreadable or has no patched function).",
            &[("function", func)],
            *n as f64,
        );
    }
    // Per-thread series, capped: the threads blocked longest first, then by
    // tid, so the chosen set is stable from scrape to scrape.
    let since = |t: &BlockedThread| {
        t.blocked_since
            .or_else(|| watch.and_then(|w| w.blocked_since(t.tid)))
            .unwrap_or(f64::INFINITY)
    };
    let mut threads: Vec<&BlockedThread> = snap.blocked_threads.iter().collect();
    threads.sort_by(|a, b| since(a).total_cmp(&since(b)).then(a.tid.cmp(&b.tid)));
    let limit = opts.blocked_threads_limit;
    let mut seen = std::collections::HashSet::new();
    let mut listed = 0usize;
    for t in threads.iter().take(limit) {
        // A thread listed twice by a confused source would make a duplicate
        // series, which Prometheus rejects for the whole scrape.
        if !seen.insert(t.tid) {
            continue;
        }
        listed += 1;
        let tid = t.tid.to_string();
        let pid = t.pid.to_string();
        b.gauge(
            "blocked_thread_info",
            "A thread blocking the transition in progress; always 1. At most --collector.blocked-threads.limit series, the threads blocked longest first.",
            &[
                ("tid", &tid),
                ("pid", &pid),
                ("comm", &t.comm),
                ("state", &t.state),
                ("function", function_of(t)),
            ],
            1.0,
        );
    }
    if snap.transition.is_some() || !snap.blocked_threads.is_empty() {
        b.gauge(
            "blocked_threads_unlisted",
            "Blocked threads without a livepatch_blocked_thread_info series because of --collector.blocked-threads.limit.",
            &[],
            snap.blocked_threads.len().saturating_sub(listed) as f64,
        );
    }
}

fn function_of(t: &BlockedThread) -> &str {
    t.blocking_function.as_deref().unwrap_or(UNKNOWN_FUNCTION)
}

fn start_source_name(s: kmod_bridge::model::StartSource) -> &'static str {
    use kmod_bridge::model::StartSource;
    match s {
        StartSource::Kernel => "kernel",
        StartSource::KernelLog => "kernel_log",
        StartSource::FirstSeen => "first_seen",
    }
}

fn bool_f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A label value made safe: control characters and bidi overrides become
/// visible escapes and the length is capped (thread and patch names are
/// chosen by whoever runs the thread or builds the patch, and someone will
/// `curl` the metrics in a terminal). Backslash, quote and newline escaping
/// of the text format is the encoder's job.
pub fn label_value(raw: &str) -> String {
    sanitize::for_terminal(raw).into_owned()
}

/// Collects metrics into families, keeping first-use order.
#[derive(Default)]
struct Builder {
    order: Vec<String>,
    fams: BTreeMap<String, MetricFamily>,
}

impl Builder {
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], v: f64) {
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::from_label(label_pairs(labels));
        m.set_gauge(g);
        self.push(name, help, MetricType::GAUGE, m);
    }

    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], v: f64) {
        let mut c = Counter::default();
        c.set_value(v);
        let mut m = Metric::from_label(label_pairs(labels));
        m.set_counter(c);
        self.push(name, help, MetricType::COUNTER, m);
    }

    fn push(&mut self, name: &str, help: &str, ty: MetricType, m: Metric) {
        let full = format!("{PREFIX}{name}");
        let fam = self.fams.entry(full.clone()).or_insert_with(|| {
            self.order.push(full.clone());
            let mut f = MetricFamily::default();
            f.set_name(full.clone());
            f.set_help(help.to_string());
            f.set_field_type(ty);
            f
        });
        fam.mut_metric().push(m);
    }

    fn finish(mut self) -> Vec<MetricFamily> {
        let mut out = Vec::with_capacity(self.order.len());
        for name in &self.order {
            if let Some(f) = self.fams.remove(name) {
                out.push(f);
            }
        }
        out
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(k, v)| {
            let mut lp = LabelPair::default();
            lp.set_name((*k).to_string());
            lp.set_value(label_value(v));
            lp
        })
        .collect()
}

/// Encode families in the Prometheus text format (0.0.4).
pub fn encode(families: &[MetricFamily]) -> Result<String, prometheus::Error> {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    prometheus::TextEncoder::new().encode(families, &mut buf)?;
    String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kmod_bridge::model::*;
    use kmod_bridge::watch::WatchConfig;

    pub(crate) fn sample_snapshot(at: f64) -> Snapshot {
        Snapshot {
            schema_version: JSON_SCHEMA_VERSION,
            source: SourceInfo {
                kind: SourceKind::Sim,
                location: "scenario stalled".into(),
                writable: true,
            },
            kernel: KernelInfo {
                os: "simulated".into(),
                release: Some("15.0-SIM".into()),
                abi_version: Some("1.0".into()),
            },
            taken_at: at,
            patches: vec![
                Patch {
                    name: "lp_base".into(),
                    enabled: true,
                    state: PatchState::Enabled,
                    replace: Some(false),
                    stack_order: Some(1),
                    signed: Some(true),
                    signer: Some("Build key 2025".into()),
                    loaded_at: Some(1000.0),
                    objects: vec![PatchObject {
                        name: "kernel".into(),
                        patched: Some(true),
                        functions: vec![PatchFunction {
                            name: "vn_read".into(),
                            sympos: None,
                            calls: Some(42),
                        }],
                    }],
                },
                Patch {
                    name: "lp_fix".into(),
                    enabled: true,
                    state: PatchState::Patching,
                    replace: None,
                    stack_order: None,
                    signed: None,
                    signer: None,
                    loaded_at: None,
                    objects: vec![PatchObject {
                        name: "kernel".into(),
                        patched: None,
                        functions: vec![
                            PatchFunction {
                                name: "msleep".into(),
                                sympos: None,
                                calls: None,
                            },
                            PatchFunction {
                                name: "kthread".into(),
                                sympos: None,
                                calls: None,
                            },
                        ],
                    }],
                },
            ],
            transition: Some(Transition {
                patch: "lp_fix".into(),
                target: Target::Patched,
                started_at: Some(at - 100.0),
                started_at_source: StartSource::Kernel,
                elapsed_seconds: Some(100.0),
                threads_total: 500,
                threads_pending: 3,
                forced: false,
                signals_sent: Some(6),
            }),
            blocked_threads: (1..=3)
                .map(|i| BlockedThread {
                    tid: 100 + i,
                    pid: 100,
                    comm: format!("worker{i}"),
                    state: "D".into(),
                    wchan: None,
                    blocking_function: if i == 3 { None } else { Some("msleep".into()) },
                    stack: vec![],
                    blocked_since: None,
                })
                .collect(),
            counters: Some(KernelCounters {
                transitions_completed: 4,
                transitions_reversed: 1,
                transitions_forced: 0,
                signals_sent: 6,
            }),
            limitations: vec![],
        }
    }

    fn render(snap: Option<&Snapshot>, watch: Option<&Watch>, limit: usize) -> String {
        let ev = EventCounts::default();
        let fams = families(&Inputs {
            snapshot: snap,
            watch,
            events: Some(&ev),
            scrape: ScrapeMeta {
                success: snap.is_some(),
                duration_seconds: Some(0.25),
            },
            options: CollectorOptions {
                blocked_threads_limit: limit,
            },
        });
        encode(&fams).unwrap()
    }

    #[test]
    fn exports_patches_transition_and_blocked_threads() {
        let s = sample_snapshot(2000.0);
        let mut w = Watch::default();
        w.observe(&s);
        let text = render(Some(&s), Some(&w), 20);
        for line in [
            "livepatch_scrape_success 1",
            "livepatch_scrape_duration_seconds 0.25",
            "livepatch_source_info{source=\"sim\",kernel_os=\"simulated\",kernel_release=\"15.0-SIM\",abi_version=\"1.0\"} 1",
            "livepatch_patch_state{patch=\"lp_fix\",state=\"patching\"} 1",
            "livepatch_patch_state{patch=\"lp_fix\",state=\"enabled\"} 0",
            "livepatch_patch_signed{patch=\"lp_base\",signer=\"Build key 2025\"} 1",
            "livepatch_patch_functions{patch=\"lp_fix\"} 2",
            "livepatch_patch_object_patched{patch=\"lp_base\",object=\"kernel\"} 1",
            "livepatch_patch_function_calls_total{patch=\"lp_base\",object=\"kernel\",function=\"vn_read\"} 42",
            "livepatch_transition_in_progress 1",
            "livepatch_transition_start_timestamp_seconds{patch=\"lp_fix\",target=\"patched\"} 1900",
            "livepatch_transition_threads{patch=\"lp_fix\",target=\"patched\"} 500",
            "livepatch_transition_threads_pending{patch=\"lp_fix\",target=\"patched\"} 3",
            "livepatch_transition_stalled{patch=\"lp_fix\",target=\"patched\"} 1",
            "livepatch_blocked_threads{function=\"msleep\"} 2",
            "livepatch_blocked_threads{function=\"(unknown)\"} 1",
            "livepatch_blocked_threads_unlisted 0",
            "livepatch_transitions_completed_total 4",
            "# TYPE livepatch_transitions_forced_total counter",
            "# TYPE livepatch_blocked_threads gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Unknown facts are absent, never exported as 0.
        assert!(!text.contains("livepatch_patch_replace{patch=\"lp_fix\""));
        assert!(!text.contains("livepatch_patch_signed{patch=\"lp_fix\""));
        // No timestamps on samples: every sample line has exactly two fields
        // after the closing brace or name.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let tail = l.rsplit_once('}').map(|(_, t)| t).unwrap_or(l);
            assert!(tail.split_whitespace().count() <= 2, "timestamp in {l:?}");
        }
    }

    #[test]
    fn failed_read_exports_only_scrape_and_exporter_metrics() {
        let text = render(None, None, 20);
        assert!(text.contains("livepatch_scrape_success 0"));
        assert!(text.contains("livepatch_exporter_build_info{version="));
        assert!(text.contains("livepatch_exporter_events_total{kind=\"source_failed\"} 0"));
        assert!(!text.contains("livepatch_transition_in_progress"));
        assert!(!text.contains("livepatch_patch_"));
    }

    #[test]
    fn idle_kernel_has_no_transition_series() {
        let mut s = sample_snapshot(10.0);
        s.transition = None;
        s.blocked_threads.clear();
        let text = render(Some(&s), None, 20);
        assert!(text.contains("livepatch_transition_in_progress 0"));
        assert!(!text.contains("livepatch_transition_threads"));
        assert!(!text.contains("livepatch_blocked_threads"));
    }

    #[test]
    fn per_thread_series_are_capped_oldest_first_and_counts_are_complete() {
        let mut s = sample_snapshot(10.0);
        s.blocked_threads = (0..50u32)
            .map(|i| BlockedThread {
                tid: 1000 + i,
                pid: 1,
                comm: "w".into(),
                state: "S".into(),
                wchan: None,
                blocking_function: Some("msleep".into()),
                stack: vec![],
                // Thread 1049 is the oldest.
                blocked_since: Some(if i == 49 { 1.0 } else { 5.0 }),
            })
            .collect();
        let text = render(Some(&s), None, 5);
        let info: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("livepatch_blocked_thread_info{"))
            .collect();
        assert_eq!(info.len(), 5);
        assert!(info.iter().any(|l| l.contains("tid=\"1049\"")));
        assert!(text.contains("livepatch_blocked_threads{function=\"msleep\"} 50"));
        assert!(text.contains("livepatch_blocked_threads_unlisted 45"));
        let none = render(Some(&s), None, 0);
        assert!(!none.contains("livepatch_blocked_thread_info{"));
        assert!(none.contains("livepatch_blocked_threads_unlisted 50"));
    }

    #[test]
    fn hostile_label_values_are_escaped_and_sanitised() {
        let mut s = sample_snapshot(10.0);
        let evil = "a\"b\\c\nd\u{1b}[31mred\u{202e}x";
        s.patches[1].name = evil.into();
        if let Some(t) = s.transition.as_mut() {
            t.patch = evil.into();
        }
        s.blocked_threads[0].comm = evil.into();
        s.blocked_threads[0].blocking_function = Some("} 1\nlivepatch_fake 1".into());
        let text = render(Some(&s), None, 20);
        assert!(!text.contains('\u{1b}'), "raw ESC in output");
        assert!(!text.contains('\u{202e}'), "raw bidi override in output");
        assert!(
            !text.lines().any(|l| l.starts_with("livepatch_fake")),
            "label value broke out of its line"
        );
        // Quote and backslash are escaped by the encoder.
        assert!(text.contains(r#"patch="a\"b\\c"#), "{text}");
        // Every sample line still parses as name{labels} value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.starts_with("livepatch_"), "bad line {l:?}");
        }
    }

    #[test]
    fn event_counts_follow_the_watch() {
        let mut w = Watch::new(WatchConfig::default());
        let mut ev = EventCounts::default();
        let s = sample_snapshot(0.0);
        w.observe(&s);
        ev.sync(&w);
        assert_eq!(ev.get(EventKind::TransitionStarted), 1);
        let mut done = sample_snapshot(5.0);
        done.transition = None;
        w.observe(&done);
        ev.sync(&w);
        ev.sync(&w);
        assert_eq!(ev.get(EventKind::TransitionCompleted), 1);
        assert_eq!(ev.get(EventKind::TransitionStarted), 1);
    }

    #[test]
    fn event_counts_stay_right_when_the_watch_drops_old_events() {
        // The watch keeps 2 events; 3 transitions make 6.
        let mut w = Watch::new(WatchConfig {
            max_events: 2,
            ..WatchConfig::default()
        });
        let mut ev = EventCounts::default();
        for i in 0..3 {
            let at = f64::from(i) * 10.0;
            w.observe(&sample_snapshot(at));
            ev.sync(&w);
            let mut done = sample_snapshot(at + 5.0);
            done.transition = None;
            w.observe(&done);
            ev.sync(&w);
        }
        assert_eq!(ev.get(EventKind::TransitionStarted), 3);
        assert_eq!(ev.get(EventKind::TransitionCompleted), 3);
    }

    #[test]
    fn docs_name_every_metric() {
        let doc = include_str!("../../docs/metrics.md");
        let s = sample_snapshot(2000.0);
        let mut w = Watch::default();
        w.observe(&s);
        let ev = EventCounts::default();
        let fams = families(&Inputs {
            snapshot: Some(&s),
            watch: Some(&w),
            events: Some(&ev),
            scrape: ScrapeMeta {
                success: true,
                duration_seconds: Some(0.0),
            },
            options: CollectorOptions::default(),
        });
        for f in &fams {
            assert!(
                doc.contains(&format!("`{}`", f.name())),
                "docs/metrics.md does not document {}",
                f.name()
            );
        }
    }
}
