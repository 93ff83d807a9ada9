//! History over successive snapshots: how long the transition has run,
//! pending threads over time, progress rate and an estimate to completion,
//! how long each thread has been blocked, a *stalled* verdict, and the
//! events (transition started, completed, reversed, forced; patch loaded,
//! removed). The console and the exporter both feed every snapshot they take
//! to one [`Watch`].
//!
//! Stalled means: in transition for longer than [`WatchConfig::stall_after`]
//! and no thread moved during the last `stall_after`. Without history (the
//! first snapshot of a transition that began earlier) progress is counted
//! from the transition's start: a transition that has not finished within
//! `stall_after` is stalled, which is kpatch's view too. The default of 60 s
//! matches what operators know from kpatch, whose loader gives up after 15 s
//! plus 60 s.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use crate::model::{PatchState, Snapshot, Target};

/// Tuning of a [`Watch`].
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// A transition without progress for this long is stalled.
    pub stall_after: Duration,
    /// Samples of pending threads kept for the chart and the rate.
    pub max_samples: usize,
    /// Events kept.
    pub max_events: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            stall_after: Duration::from_secs(60),
            max_samples: 3600,
            max_events: 1000,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A patch appeared.
    PatchLoaded,
    /// A patch disappeared.
    PatchRemoved,
    /// A transition began.
    TransitionStarted,
    /// A transition reached its target.
    TransitionCompleted,
    /// A transition changed direction (revert during transition).
    TransitionReversed,
    /// A transition was forced.
    TransitionForced,
    /// A transition became stalled.
    TransitionStalled,
    /// A control write succeeded.
    ControlSucceeded,
    /// A control write failed.
    ControlFailed,
    /// Reading the source failed.
    SourceFailed,
    /// Reading the source works again.
    SourceRecovered,
}

impl EventKind {
    /// Short label for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::PatchLoaded => "loaded",
            EventKind::PatchRemoved => "removed",
            EventKind::TransitionStarted => "started",
            EventKind::TransitionCompleted => "completed",
            EventKind::TransitionReversed => "reversed",
            EventKind::TransitionForced => "forced",
            EventKind::TransitionStalled => "stalled",
            EventKind::ControlSucceeded => "control",
            EventKind::ControlFailed => "control failed",
            EventKind::SourceFailed => "read failed",
            EventKind::SourceRecovered => "read ok",
        }
    }

    /// True for events an operator should notice (shown highlighted).
    pub fn is_alarming(self) -> bool {
        matches!(
            self,
            EventKind::TransitionForced
                | EventKind::TransitionStalled
                | EventKind::ControlFailed
                | EventKind::SourceFailed
        )
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When it was noticed (Unix seconds).
    pub at: f64,
    /// What happened.
    pub kind: EventKind,
    /// The patch concerned, if any.
    pub patch: Option<String>,
    /// Plain-words description (untrusted parts not yet sanitised).
    pub message: String,
}

/// One point of the pending-threads history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Snapshot time (Unix seconds).
    pub at: f64,
    /// Threads pending (0 when idle).
    pub pending: u64,
    /// Threads taking part (0 when idle).
    pub total: u64,
}

/// The watch's view of the transition in progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionStatus {
    /// Patch in transition.
    pub patch: String,
    /// Target.
    pub target: Target,
    /// Seconds in transition (from the kernel's start time where known).
    pub elapsed_seconds: f64,
    /// Threads still pending.
    pub pending: u64,
    /// Threads taking part.
    pub total: u64,
    /// Threads moved per second over the recent window (`None` until two
    /// samples exist).
    pub rate_per_second: Option<f64>,
    /// Seconds to completion at the current rate (`None` without progress).
    pub eta_seconds: Option<f64>,
    /// Seconds since the pending count last went down (or since start).
    pub seconds_since_progress: f64,
    /// The stall verdict.
    pub stalled: bool,
    /// Forced.
    pub forced: bool,
}

/// History over snapshots. Feed it every snapshot with [`Watch::observe`].
#[derive(Debug, Clone)]
pub struct Watch {
    cfg: WatchConfig,
    samples: VecDeque<Sample>,
    events: VecDeque<Event>,
    /// Patch name -> state at the last snapshot.
    patches: HashMap<String, PatchState>,
    /// Transition at the last snapshot: (patch, target, forced).
    transition: Option<(String, Target, bool)>,
    /// When the transition was first seen, for sources without a start time.
    first_seen: Option<f64>,
    /// Last time pending went down, and the lowest pending seen.
    last_progress: Option<(f64, u64)>,
    stalled_reported: bool,
    forced_reported: bool,
    /// Kernel counters at the last snapshot (forced transitions show there
    /// even when the transition completed between two snapshots).
    counters: Option<crate::model::KernelCounters>,
    /// tid -> first time seen blocked (current transition only).
    blocked_since: HashMap<u32, f64>,
    status: Option<TransitionStatus>,
    /// Events ever recorded (the list itself is capped).
    recorded: u64,
    /// The next blocked-thread update is the first of this transition.
    fresh_transition: bool,
    observed: bool,
    failing: bool,
}

impl Default for Watch {
    fn default() -> Self {
        Self::new(WatchConfig::default())
    }
}

impl Watch {
    /// An empty history.
    pub fn new(cfg: WatchConfig) -> Self {
        Self {
            cfg,
            samples: VecDeque::new(),
            events: VecDeque::new(),
            patches: HashMap::new(),
            transition: None,
            first_seen: None,
            last_progress: None,
            stalled_reported: false,
            forced_reported: false,
            counters: None,
            blocked_since: HashMap::new(),
            status: None,
            recorded: 0,
            fresh_transition: false,
            observed: false,
            failing: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WatchConfig {
        &self.cfg
    }

    /// Take in a snapshot; returns the number of new events.
    pub fn observe(&mut self, snap: &Snapshot) -> usize {
        let before = self.recorded;
        let now = snap.taken_at;
        if self.failing {
            self.failing = false;
            self.push(
                now,
                EventKind::SourceRecovered,
                None,
                "reading the source works again".into(),
            );
        }
        // Loads come before the transition they start, removals after the
        // transition that ends in them.
        let removed = self.diff_patches(snap, now);
        self.diff_transition(snap, now);
        for name in removed {
            self.push(
                now,
                EventKind::PatchRemoved,
                Some(name.clone()),
                format!("patch '{name}' removed"),
            );
        }
        self.samples.push_back(match &snap.transition {
            Some(t) => Sample {
                at: now,
                pending: t.threads_pending,
                total: t.threads_total,
            },
            None => Sample {
                at: now,
                pending: 0,
                total: 0,
            },
        });
        while self.samples.len() > self.cfg.max_samples {
            self.samples.pop_front();
        }
        self.update_blocked(snap, now);
        self.status = self.compute_status(snap, now);
        if let Some(st) = &self.status
            && st.stalled
            && !self.stalled_reported
        {
            self.stalled_reported = true;
            let msg = format!(
                "transition of '{}' stalled: no thread moved for {}, {} of {} pending",
                st.patch,
                fmt_secs(st.seconds_since_progress),
                st.pending,
                st.total
            );
            let patch = st.patch.clone();
            self.push(now, EventKind::TransitionStalled, Some(patch), msg);
        }
        self.observed = true;
        usize::try_from(self.recorded - before).unwrap_or(usize::MAX)
    }

    /// Record a failed read (once per run of failures).
    pub fn observe_error(&mut self, at: f64, error: &str) {
        if !self.failing {
            self.failing = true;
            self.push(at, EventKind::SourceFailed, None, error.to_string());
        }
    }

    /// Record an event from outside (control results).
    pub fn record(&mut self, at: f64, kind: EventKind, patch: Option<String>, message: String) {
        self.push(at, kind, patch, message);
    }

    /// Events, oldest first.
    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }

    /// Pending-thread samples, oldest first.
    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    /// The transition in progress as of the last snapshot.
    pub fn transition(&self) -> Option<&TransitionStatus> {
        self.status.as_ref()
    }

    /// Seconds thread `tid` has been blocked as of `now`, where known.
    pub fn blocked_for(&self, tid: u32, now: f64) -> Option<f64> {
        self.blocked_since.get(&tid).map(|t| (now - t).max(0.0))
    }

    /// When thread `tid` was first seen blocked (Unix seconds).
    pub fn blocked_since(&self, tid: u32) -> Option<f64> {
        self.blocked_since.get(&tid).copied()
    }

    fn push(&mut self, at: f64, kind: EventKind, patch: Option<String>, message: String) {
        self.recorded += 1;
        self.events.push_back(Event {
            at,
            kind,
            patch,
            message,
        });
        while self.events.len() > self.cfg.max_events {
            self.events.pop_front();
        }
    }

    /// Record loads; return the names of removed patches.
    fn diff_patches(&mut self, snap: &Snapshot, now: f64) -> Vec<String> {
        let mut current = HashMap::with_capacity(snap.patches.len());
        for p in &snap.patches {
            if self.observed && !self.patches.contains_key(&p.name) {
                self.push(
                    now,
                    EventKind::PatchLoaded,
                    Some(p.name.clone()),
                    format!("patch '{}' loaded ({})", p.name, p.state),
                );
            }
            current.insert(p.name.clone(), p.state);
        }
        let mut gone: Vec<String> = if self.observed {
            self.patches
                .keys()
                .filter(|n| !current.contains_key(*n))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        gone.sort();
        self.patches = current;
        gone
    }

    fn diff_transition(&mut self, snap: &Snapshot, now: f64) {
        let cur = snap
            .transition
            .as_ref()
            .map(|t| (t.patch.clone(), t.target, t.forced));
        let prev = self.transition.clone();
        match (&prev, &cur) {
            (None, Some((p, t, _))) => {
                self.start(now, snap);
                if self.observed {
                    self.push(
                        now,
                        EventKind::TransitionStarted,
                        Some(p.clone()),
                        format!("transition of '{p}' to {t} started"),
                    );
                } else {
                    self.push(
                        now,
                        EventKind::TransitionStarted,
                        Some(p.clone()),
                        format!("transition of '{p}' to {t} in progress"),
                    );
                }
            }
            (Some((p0, t0, f0)), Some((p1, t1, f1))) => {
                if p0 != p1 {
                    self.finish(now, p0, *t0, *f0, snap);
                    self.start(now, snap);
                    self.push(
                        now,
                        EventKind::TransitionStarted,
                        Some(p1.clone()),
                        format!("transition of '{p1}' to {t1} started"),
                    );
                } else if t0 != t1 {
                    self.start(now, snap);
                    // The kernel may keep the original start time; progress
                    // in the new direction starts now.
                    self.last_progress = snap.transition.as_ref().map(|t| (now, t.threads_pending));
                    self.push(
                        now,
                        EventKind::TransitionReversed,
                        Some(p1.clone()),
                        format!("transition of '{p1}' reversed: now moving to {t1}"),
                    );
                } else if *f1 && !f0 {
                    self.forced_reported = true;
                    self.push(
                        now,
                        EventKind::TransitionForced,
                        Some(p1.clone()),
                        format!("transition of '{p1}' forced"),
                    );
                }
            }
            (Some((p0, t0, f0)), None) => {
                let (p0, t0, f0) = (p0.clone(), *t0, *f0);
                self.finish(now, &p0, t0, f0, snap);
            }
            (None, None) => {}
        }
        self.transition = cur;
        self.counters = snap.counters;
    }

    fn start(&mut self, now: f64, snap: &Snapshot) {
        self.first_seen = Some(now);
        self.last_progress = snap
            .transition
            .as_ref()
            .map(|t| (t.started_at.unwrap_or(now), t.threads_pending));
        self.stalled_reported = false;
        self.fresh_transition = true;
        self.forced_reported = snap.transition.as_ref().is_some_and(|t| t.forced);
        self.blocked_since.clear();
        self.samples.clear();
    }

    fn finish(&mut self, now: f64, patch: &str, target: Target, forced: bool, snap: &Snapshot) {
        // Forced is visible either in the last transition sample or, on
        // sources that publish it, in the kernel counters.
        let counted = matches!((self.counters, snap.counters),
            (Some(a), Some(b)) if b.transitions_forced > a.transitions_forced);
        if (forced || counted) && !self.forced_reported {
            self.push(
                now,
                EventKind::TransitionForced,
                Some(patch.to_string()),
                format!("transition of '{patch}' forced to complete"),
            );
        }
        let elapsed = self.first_seen.map(|t| now - t);
        let msg = match elapsed {
            Some(e) => format!(
                "transition of '{patch}' to {target} completed (watched for {})",
                fmt_secs(e)
            ),
            None => format!("transition of '{patch}' to {target} completed"),
        };
        self.push(
            now,
            EventKind::TransitionCompleted,
            Some(patch.to_string()),
            msg,
        );
        self.first_seen = None;
        self.last_progress = None;
        self.blocked_since.clear();
    }

    fn update_blocked(&mut self, snap: &Snapshot, now: f64) {
        if snap.transition.is_none() {
            self.blocked_since.clear();
            return;
        }
        // Keep only threads still blocked. A thread is pending from the
        // start of the transition until it moves (threads never move back),
        // so those already pending when the watch first sees a transition
        // have been since its start; ones that appear later are new threads.
        // The kernel's own figure wins where it publishes one.
        let first_sight = std::mem::take(&mut self.fresh_transition);
        let default = match snap.transition.as_ref().and_then(|t| t.started_at) {
            Some(start) if first_sight => start.min(now),
            _ => now,
        };
        let mut next = HashMap::with_capacity(snap.blocked_threads.len());
        for t in &snap.blocked_threads {
            let since = t
                .blocked_since
                .or_else(|| self.blocked_since.get(&t.tid).copied())
                .unwrap_or(default);
            next.insert(t.tid, since);
        }
        self.blocked_since = next;
    }

    fn compute_status(&mut self, snap: &Snapshot, now: f64) -> Option<TransitionStatus> {
        let t = snap.transition.as_ref()?;
        let start = t.started_at.or(self.first_seen).unwrap_or(now);
        let elapsed = (now - start).max(0.0);
        let (mut last_at, mut low) = self.last_progress.unwrap_or((start, t.threads_pending));
        if t.threads_pending < low {
            low = t.threads_pending;
            last_at = now;
        }
        self.last_progress = Some((last_at, low));
        let since_progress = (now - last_at).max(0.0);
        let rate = self.rate();
        let eta = match rate {
            Some(r) if r > 0.0 => Some(t.threads_pending as f64 / r),
            _ => None,
        };
        let stall = self.cfg.stall_after.as_secs_f64();
        Some(TransitionStatus {
            patch: t.patch.clone(),
            target: t.target,
            elapsed_seconds: elapsed,
            pending: t.threads_pending,
            total: t.threads_total,
            rate_per_second: rate,
            eta_seconds: eta,
            seconds_since_progress: since_progress,
            stalled: t.threads_pending > 0 && elapsed >= stall && since_progress >= stall,
            forced: t.forced,
        })
    }

    /// Threads moved per second over the last minute of samples.
    fn rate(&self) -> Option<f64> {
        let last = self.samples.back()?;
        let window_start = last.at - 60.0;
        let first = self
            .samples
            .iter()
            .find(|s| s.at >= window_start && s.total > 0)?;
        let dt = last.at - first.at;
        if dt <= 0.0 {
            return None;
        }
        Some((first.pending as f64 - last.pending as f64).max(0.0) / dt)
    }
}

/// Format seconds for humans: `1m 30s`, `2h 5m`, `12s`.
pub fn fmt_secs(secs: f64) -> String {
    let s = if secs.is_finite() && secs > 0.0 {
        secs.round() as u64
    } else {
        0
    };
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn snap(
        at: f64,
        patches: &[(&str, PatchState)],
        tr: Option<(&str, Target, u64, u64, bool)>,
    ) -> Snapshot {
        Snapshot {
            schema_version: JSON_SCHEMA_VERSION,
            source: SourceInfo {
                kind: SourceKind::Sim,
                location: "test".into(),
                writable: true,
            },
            kernel: KernelInfo::default(),
            taken_at: at,
            patches: patches
                .iter()
                .map(|(n, s)| Patch {
                    name: n.to_string(),
                    enabled: matches!(s, PatchState::Enabled | PatchState::Patching),
                    state: *s,
                    replace: None,
                    stack_order: None,
                    signed: None,
                    signer: None,
                    loaded_at: None,
                    objects: vec![],
                })
                .collect(),
            transition: tr.map(|(p, t, total, pending, forced)| Transition {
                patch: p.into(),
                target: t,
                started_at: None,
                started_at_source: StartSource::FirstSeen,
                elapsed_seconds: None,
                threads_total: total,
                threads_pending: pending,
                forced,
                signals_sent: None,
            }),
            blocked_threads: vec![],
            counters: None,
            limitations: vec![],
        }
    }

    fn kinds(w: &Watch) -> Vec<EventKind> {
        w.events().iter().map(|e| e.kind).collect()
    }

    #[test]
    fn progressing_transition_has_rate_eta_and_completes() {
        let mut w = Watch::default();
        w.observe(&snap(100.0, &[("p", PatchState::Enabled)], None));
        w.observe(&snap(
            101.0,
            &[("p", PatchState::Enabled), ("q", PatchState::Patching)],
            Some(("q", Target::Patched, 100, 100, false)),
        ));
        w.observe(&snap(
            111.0,
            &[("p", PatchState::Enabled), ("q", PatchState::Patching)],
            Some(("q", Target::Patched, 100, 50, false)),
        ));
        let st = w.transition().expect("in transition");
        assert_eq!(st.elapsed_seconds, 10.0);
        assert_eq!(st.rate_per_second, Some(5.0));
        assert_eq!(st.eta_seconds, Some(10.0));
        assert!(!st.stalled);
        w.observe(&snap(
            121.0,
            &[("p", PatchState::Enabled), ("q", PatchState::Enabled)],
            None,
        ));
        assert!(w.transition().is_none());
        assert_eq!(
            kinds(&w),
            vec![
                EventKind::PatchLoaded,
                EventKind::TransitionStarted,
                EventKind::TransitionCompleted
            ]
        );
    }

    #[test]
    fn no_progress_past_threshold_is_stalled_once() {
        let mut w = Watch::new(WatchConfig {
            stall_after: Duration::from_secs(60),
            ..WatchConfig::default()
        });
        let tr = Some(("q", Target::Patched, 10, 3, false));
        w.observe(&snap(0.0, &[("q", PatchState::Patching)], tr));
        w.observe(&snap(59.0, &[("q", PatchState::Patching)], tr));
        assert!(!w.transition().expect("tr").stalled);
        w.observe(&snap(61.0, &[("q", PatchState::Patching)], tr));
        assert!(w.transition().expect("tr").stalled);
        w.observe(&snap(90.0, &[("q", PatchState::Patching)], tr));
        let stalled = kinds(&w)
            .iter()
            .filter(|k| **k == EventKind::TransitionStalled)
            .count();
        assert_eq!(stalled, 1);
        // Progress clears the verdict.
        w.observe(&snap(
            91.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 2, false)),
        ));
        assert!(!w.transition().expect("tr").stalled);
    }

    #[test]
    fn slow_but_moving_is_not_stalled() {
        let mut w = Watch::default();
        for i in 0..20u64 {
            let at = i as f64 * 30.0;
            w.observe(&snap(
                at,
                &[("q", PatchState::Patching)],
                Some(("q", Target::Patched, 100, 100 - i, false)),
            ));
        }
        assert!(!w.transition().expect("tr").stalled);
    }

    #[test]
    fn reversal_and_force_and_removal_are_events() {
        let mut w = Watch::default();
        w.observe(&snap(
            0.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 3, false)),
        ));
        w.observe(&snap(
            1.0,
            &[("q", PatchState::Unpatching)],
            Some(("q", Target::Unpatched, 10, 7, false)),
        ));
        w.observe(&snap(2.0, &[], None));
        assert_eq!(
            kinds(&w),
            vec![
                EventKind::TransitionStarted,
                EventKind::TransitionReversed,
                EventKind::TransitionCompleted,
                EventKind::PatchRemoved
            ]
        );
        let mut w = Watch::default();
        w.observe(&snap(
            0.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 3, false)),
        ));
        w.observe(&snap(
            1.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 0, true)),
        ));
        w.observe(&snap(2.0, &[("q", PatchState::Enabled)], None));
        assert!(kinds(&w).contains(&EventKind::TransitionForced));
    }

    #[test]
    fn a_reversal_is_not_stalled_at_once() {
        let mut w = Watch::default();
        let mut s = snap(
            0.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 3, false)),
        );
        if let Some(t) = s.transition.as_mut() {
            t.started_at = Some(-600.0);
        }
        w.observe(&s);
        assert!(w.transition().expect("tr").stalled);
        let mut r = snap(
            1.0,
            &[("q", PatchState::Unpatching)],
            Some(("q", Target::Unpatched, 10, 7, false)),
        );
        if let Some(t) = r.transition.as_mut() {
            t.started_at = Some(-600.0);
        }
        w.observe(&r);
        let st = w.transition().expect("tr");
        assert!(!st.stalled, "{st:?}");
        assert_eq!(st.seconds_since_progress, 0.0);
    }

    #[test]
    fn blocked_time_counts_from_first_sight() {
        let mut w = Watch::default();
        let mut s = snap(
            10.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 1, false)),
        );
        s.blocked_threads.push(BlockedThread {
            tid: 7,
            pid: 7,
            comm: "k".into(),
            state: "D".into(),
            wchan: None,
            blocking_function: None,
            stack: vec![],
            blocked_since: None,
        });
        w.observe(&s);
        s.taken_at = 25.0;
        w.observe(&s);
        assert_eq!(w.blocked_for(7, 25.0), Some(15.0));
        assert_eq!(w.blocked_for(8, 25.0), None);
    }

    #[test]
    fn threads_pending_at_first_sight_count_from_the_transition_start() {
        let mut w = Watch::default();
        let thread = |tid| BlockedThread {
            tid,
            pid: tid,
            comm: "k".into(),
            state: "D".into(),
            wchan: None,
            blocking_function: None,
            stack: vec![],
            blocked_since: None,
        };
        let mut s = snap(
            100.0,
            &[("q", PatchState::Patching)],
            Some(("q", Target::Patched, 10, 1, false)),
        );
        if let Some(t) = s.transition.as_mut() {
            t.started_at = Some(40.0);
        }
        s.blocked_threads.push(thread(7));
        w.observe(&s);
        assert_eq!(w.blocked_for(7, 100.0), Some(60.0));
        // A thread that shows up later is a new one: it counts from then.
        s.taken_at = 110.0;
        s.blocked_threads.push(thread(8));
        w.observe(&s);
        assert_eq!(w.blocked_for(7, 110.0), Some(70.0));
        assert_eq!(w.blocked_for(8, 110.0), Some(0.0));
    }

    #[test]
    fn source_failures_are_reported_once_and_recover() {
        let mut w = Watch::default();
        w.observe_error(1.0, "boom");
        w.observe_error(2.0, "boom");
        w.observe(&snap(3.0, &[], None));
        assert_eq!(
            kinds(&w),
            vec![EventKind::SourceFailed, EventKind::SourceRecovered]
        );
    }

    #[test]
    fn new_event_count_survives_the_cap() {
        let mut w = Watch::new(WatchConfig {
            max_events: 2,
            ..WatchConfig::default()
        });
        w.observe(&snap(0.0, &[], None));
        let mut n = 0;
        for i in 1..6 {
            let name = format!("p{i}");
            n += w.observe(&snap(
                i as f64,
                &[(name.as_str(), PatchState::Enabled)],
                None,
            ));
        }
        // Each snapshot loads one patch and removes the previous one.
        assert_eq!(n, 9);
        assert_eq!(w.events().len(), 2);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_secs(12.4), "12s");
        assert_eq!(fmt_secs(90.0), "1m 30s");
        assert_eq!(fmt_secs(7500.0), "2h 5m");
        assert_eq!(fmt_secs(f64::NAN), "0s");
    }
}
