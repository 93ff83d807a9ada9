//! The simulated kernel's state and its consistency model: patches, the
//! transition, blocked threads, signals, revert, force and cumulative
//! replace.
//!
//! Time is counted in *kernel seconds* relative to the simulator's origin
//! (second 0 is when it was opened). The kernel acts once per second, like
//! klp's retry of `klp_try_complete_transition`: all state changes except
//! control writes happen on these ticks, so the state after a given amount
//! of time is the same however the time was handed in (one `advance` of a
//! minute or sixty of a second).
//!
//! Threads are counts: a transition knows how many threads take part and how
//! many reached the target; only the *blocked* threads are explicit. The
//! others move at a pace that is a number decreasing over time, so a million
//! threads cost nothing.

use std::sync::Arc;

use crate::model::{PatchState, Target};
use crate::source::freebsd::MibWriteError;

/// Seconds between two rounds of automatic fake signals (klp's
/// `SIGNALS_TIMEOUT`).
pub const SIGNAL_PERIOD_S: i64 = 15;

/// Largest value `kern.livepatch.blocked_max` accepts (`doc/MIB.md`).
pub const BLOCKED_MAX_LIMIT: u32 = 65_536;

/// How a blocked thread looks: shared by every thread that sleeps at the
/// same place (a storm has 100,000 blocked threads and a dozen templates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadTemplate {
    /// Thread name (may be hostile text: raw, encoded when published).
    pub comm: String,
    /// `S` (interruptible sleep) or `D` (uninterruptible).
    pub state: char,
    /// A kernel thread (kproc): the kernel's automatic fake signals wake
    /// these; user threads are signalled only on the operator's request.
    pub kernel: bool,
    /// Wait channel.
    pub wchan: String,
    /// The patched function it sleeps in (its first patched frame).
    pub blocking: String,
    /// Frames `func+0xoff`, innermost first.
    pub stack: Vec<String>,
}

impl ThreadTemplate {
    /// Whether a fake signal wakes it (interruptible sleep).
    pub fn wakes_on_signal(&self) -> bool {
        self.state == 'S'
    }
}

/// One blocked thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimThread {
    /// Thread id.
    pub tid: u32,
    /// Process id.
    pub pid: u32,
    /// Kernel second since which the kernel sees it blocked.
    pub since: i64,
    /// Kernel second at which it leaves the patched function by itself
    /// (its sleep ends), `None`: it sleeps until woken or forced.
    pub release_at: Option<i64>,
    /// Shared description.
    pub tmpl: Arc<ThreadTemplate>,
}

/// A replaced function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFunction {
    /// Symbol name.
    pub name: String,
    /// Symbol position (0: unique).
    pub sympos: u32,
    /// Calls of the replacement function so far.
    pub calls: u64,
    /// Calls per second when every thread runs the new code.
    pub rate: u64,
}

/// An object (the kernel or a module) a patch changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimObject {
    /// `kernel` or a module name.
    pub name: String,
    /// Whether the module is loaded: a patch for an absent module is
    /// enabled but its object is not patched (klp's `<object>/patched`).
    pub loaded: bool,
    /// Functions replaced.
    pub functions: Vec<SimFunction>,
}

/// One live patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPatch {
    /// Patch name.
    pub name: String,
    /// The `enabled` flag (already false while unpatching).
    pub enabled: bool,
    /// State.
    pub state: PatchState,
    /// Cumulative patch replacing all others when its patching completes.
    pub replace: bool,
    /// `mib::sig` code.
    pub signed: i64,
    /// Signing key id, `""` when unsigned.
    pub signer: String,
    /// Kernel second it was loaded.
    pub loaded: i64,
    /// A transition was forced while it was loaded: its module can never be
    /// unloaded (klp marks every patch).
    pub forced: bool,
    /// Objects.
    pub objects: Vec<SimObject>,
}

impl SimPatch {
    /// Number of functions.
    pub fn nfuncs(&self) -> usize {
        self.objects.iter().map(|o| o.functions.len()).sum()
    }
}

/// How fast the threads that are not blocked reach the target: each tick
/// moves `ceil(free * permille / 1000) + linear` of them. The proportional
/// part makes the curve fall fast first, the linear part guarantees an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Share of the free pending threads moving per tick, in ‰.
    pub permille: u64,
    /// Threads moving per tick on top.
    pub linear: u64,
}

impl Pace {
    /// The pace of a transition nothing holds back (disable, reversal): it
    /// completes within about six seconds.
    pub fn fast(free: u64) -> Self {
        Self {
            permille: 450,
            linear: free.div_ceil(6).max(1),
        }
    }

    /// Threads moving in one tick when `free` are pending and not blocked.
    pub fn step(self, free: u64) -> u64 {
        let prop = u64::try_from((u128::from(free) * u128::from(self.permille)).div_ceil(1000))
            .unwrap_or(u64::MAX);
        prop.saturating_add(self.linear).min(free)
    }
}

/// Facts about the blocked list a tick needs, kept so that a tick does not
/// walk 100,000 threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Summary {
    /// Blocked kernel threads (the automatic signals go to them).
    kernel: u64,
    /// Of those, the ones an automatic signal wakes.
    kernel_wakeable: u64,
    /// Earliest `release_at`.
    next_release: Option<i64>,
}

/// The transition in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTransition {
    /// Patch in transition.
    pub patch: String,
    /// Direction.
    pub target: Target,
    /// Kernel second it started (a reversal keeps it: same transition).
    pub started: i64,
    /// Threads taking part.
    pub total: u64,
    /// Threads already at `target`.
    pub at_target: u64,
    /// Threads holding it back, by tid. Always `<= total - at_target`.
    pub blocked: Vec<SimThread>,
    /// The blockers of the other direction: threads that sleep in the old
    /// code do not block a reversal (they never moved), but block again if
    /// the transition is reversed once more.
    pub parked: Vec<SimThread>,
    /// Forced (set by force, which completes it at once).
    pub forced: bool,
    /// Fake signals sent in this transition.
    pub signals: u64,
    /// Pace of the free threads.
    pub pace: Pace,
    summary: Summary,
}

impl SimTransition {
    /// A transition of `patch` towards `target` starting at `started`.
    pub fn new(
        patch: &str,
        target: Target,
        started: i64,
        total: u64,
        at_target: u64,
        mut blocked: Vec<SimThread>,
        pace: Pace,
    ) -> Self {
        // Never more blockers than pending threads.
        let pending = total.saturating_sub(at_target);
        blocked.truncate(usize::try_from(pending).unwrap_or(usize::MAX));
        blocked.sort_by_key(|t| t.tid);
        let mut t = Self {
            patch: patch.to_string(),
            target,
            started,
            total,
            at_target: at_target.min(total),
            blocked,
            parked: Vec::new(),
            forced: false,
            signals: 0,
            pace,
            summary: Summary::default(),
        };
        t.resummarize();
        t
    }

    /// Threads not yet at the target.
    pub fn pending(&self) -> u64 {
        self.total.saturating_sub(self.at_target)
    }

    /// Pending threads that are not blocked: they move on their own.
    pub fn free(&self) -> u64 {
        self.pending().saturating_sub(self.blocked.len() as u64)
    }

    fn resummarize(&mut self) {
        let mut s = Summary::default();
        for t in &self.blocked {
            if t.tmpl.kernel {
                s.kernel += 1;
                if t.tmpl.wakes_on_signal() {
                    s.kernel_wakeable += 1;
                }
            }
            if let Some(r) = t.release_at {
                s.next_release = Some(s.next_release.map_or(r, |n| n.min(r)));
            }
        }
        self.summary = s;
    }

    /// Remove the blocked threads `moves` selects; they reach the target.
    fn move_blocked(&mut self, moves: impl Fn(&SimThread) -> bool) -> u64 {
        let before = self.blocked.len();
        self.blocked.retain(|t| !moves(t));
        let moved = (before - self.blocked.len()) as u64;
        self.at_target = (self.at_target + moved).min(self.total);
        if moved > 0 {
            self.resummarize();
        }
        moved
    }

    /// Nothing changes on a tick but counters: no free threads, nobody
    /// whose sleep ends, nobody an automatic signal wakes.
    fn quiescent(&self) -> bool {
        // With nobody pending the next tick completes it: not quiescent.
        self.pending() > 0
            && self.free() == 0
            && self.summary.next_release.is_none()
            && self.summary.kernel_wakeable == 0
    }
}

/// Kernel-side lifetime counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transitions that reached their target by themselves (a reversed
    /// transition counts when it reaches its new target).
    pub completed: u64,
    /// Reversals.
    pub reversed: u64,
    /// Transitions completed by force (not counted in `completed`).
    pub forced: u64,
    /// Fake signals sent, one per thread signalled.
    pub signals: u64,
}

/// The simulated kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `kern.livepatch.kernel`.
    pub release: String,
    /// Patches in stacking order, oldest first.
    pub patches: Vec<SimPatch>,
    /// The transition in progress.
    pub transition: Option<SimTransition>,
    /// Counters.
    pub stats: Stats,
    /// Threads in the system (all take part in a transition).
    pub threads: u64,
    /// `kern.livepatch.blocked_max`.
    pub blocked_max: u32,
    /// Last kernel second ticked.
    pub tick: i64,
}

fn errno(errno: i32, name: &str) -> MibWriteError {
    MibWriteError::Errno {
        errno,
        name: name.to_string(),
    }
}

/// EINVAL, as the kernel answers a write that makes no sense now.
pub fn einval() -> MibWriteError {
    errno(libc::EINVAL, "EINVAL")
}

/// EBUSY: another patch is in transition.
pub fn ebusy() -> MibWriteError {
    errno(libc::EBUSY, "EBUSY")
}

impl Kernel {
    /// Run the ticks up to kernel second `to`.
    pub fn advance_to(&mut self, to: i64) {
        while self.tick < to {
            let quiet = self
                .transition
                .as_ref()
                .is_none_or(SimTransition::quiescent);
            if quiet {
                // Only counters move until `to`: do it in one step, so a
                // day's advance of a stalled storm costs nothing.
                let n = to - self.tick;
                self.bulk_ticks(n);
                self.tick = to;
            } else {
                self.tick += 1;
                self.run_tick(self.tick);
            }
        }
    }

    /// Count the automatic signals a transition that started before second
    /// 0 has already sent (scenarios begin mid-transition). Call once, when
    /// the blocked list is the one the transition has had since its start.
    pub fn backfill_signals(&mut self) {
        if let Some(tr) = &mut self.transition {
            let sent =
                signal_rounds(tr.started, tr.started, self.tick).saturating_mul(tr.summary.kernel);
            tr.signals = tr.signals.saturating_add(sent);
            self.stats.signals = self.stats.signals.saturating_add(sent);
        }
    }

    /// `n` ticks of a quiescent kernel: call counters and signal rounds.
    fn bulk_ticks(&mut self, n: i64) {
        self.grow_calls(u64::try_from(n).unwrap_or(0));
        let from = self.tick;
        if let Some(tr) = &mut self.transition {
            let rounds = signal_rounds(tr.started, from, from + n);
            let sent = rounds.saturating_mul(tr.summary.kernel);
            tr.signals = tr.signals.saturating_add(sent);
            self.stats.signals = self.stats.signals.saturating_add(sent);
        }
    }

    /// One retry of the kernel at second `t`.
    fn run_tick(&mut self, t: i64) {
        self.grow_calls(1);
        let Some(tr) = &mut self.transition else {
            return;
        };
        // Sleeps that ended: those threads left the patched function.
        if tr.summary.next_release.is_some_and(|r| r <= t) {
            tr.move_blocked(|th| th.release_at.is_some_and(|r| r <= t));
        }
        let free = tr.free();
        tr.at_target += tr.pace.step(free);
        // klp signals every SIGNALS_TIMEOUT retries. This module signals
        // kernel threads automatically and user threads only on request
        // (transition.signal): waking user processes is intrusive.
        if signal_rounds(tr.started, t - 1, t) > 0 && tr.summary.kernel > 0 {
            let sent = tr.summary.kernel;
            tr.signals += sent;
            self.stats.signals += sent;
            tr.move_blocked(|th| th.tmpl.kernel && th.tmpl.wakes_on_signal());
        }
        if tr.pending() == 0 {
            self.complete(false);
        }
    }

    /// Replacement functions are called in proportion to the threads
    /// running the new code.
    fn grow_calls(&mut self, ticks: u64) {
        if ticks == 0 || self.threads == 0 {
            return;
        }
        let threads = u128::from(self.threads);
        let on_new: Vec<u64> = self
            .patches
            .iter()
            .map(|p| match (&self.transition, p.state) {
                (_, PatchState::Disabled) => 0,
                (Some(tr), PatchState::Patching) if tr.patch == p.name => tr.at_target,
                (Some(tr), PatchState::Unpatching) if tr.patch == p.name => tr.pending(),
                _ => self.threads,
            })
            .collect();
        for i in 0..self.patches.len() {
            let share = u128::from(on_new.get(i).copied().unwrap_or(0));
            if share == 0 {
                continue;
            }
            let (older, newer) = self.patches.split_at_mut(i + 1);
            let Some(p) = older.last_mut() else { continue };
            for o in p.objects.iter_mut().filter(|o| o.loaded) {
                for f in &mut o.functions {
                    // A newer active patch replacing the same function takes
                    // the calls.
                    let overridden = newer.iter().any(|q| {
                        q.state != PatchState::Disabled
                            && q.objects.iter().any(|qo| {
                                qo.name == o.name && qo.functions.iter().any(|qf| qf.name == f.name)
                            })
                    });
                    if overridden {
                        continue;
                    }
                    let per_tick = u128::from(f.rate) * share / threads;
                    let inc = u64::try_from(per_tick * u128::from(ticks)).unwrap_or(u64::MAX);
                    f.calls = f.calls.saturating_add(inc);
                }
            }
        }
    }

    /// The transition reached its target (`forced`: by force).
    fn complete(&mut self, forced: bool) {
        let Some(tr) = self.transition.take() else {
            return;
        };
        if forced {
            self.stats.forced += 1;
        } else {
            self.stats.completed += 1;
        }
        let Some(idx) = self.patches.iter().position(|p| p.name == tr.patch) else {
            return;
        };
        match tr.target {
            Target::Patched => {
                let replace = self.patches.get(idx).is_some_and(|p| p.replace);
                if let Some(p) = self.patches.get_mut(idx) {
                    p.state = PatchState::Enabled;
                    p.enabled = true;
                }
                if replace {
                    // A cumulative patch takes over: the patches it replaces
                    // are disabled and go away (klp_discard_replaced_patches).
                    self.patches.retain(|p| p.name == tr.patch);
                }
            }
            Target::Unpatched => {
                // As on Linux: a patch whose unpatching completed is gone.
                self.patches.remove(idx);
            }
        }
    }

    /// A write to `kern.livepatch.patch.<p>.enabled`, with klp's rules:
    /// the value it already has: EINVAL; the patch in transition: reverse;
    /// 0 while another patch is in transition: EBUSY; 0: start unpatching;
    /// 1 on a disabled patch: EINVAL (re-enabling needs a reload).
    pub fn write_enabled(&mut self, idx: usize, value: i64) -> Result<(), MibWriteError> {
        let enable = match value {
            0 => false,
            1 => true,
            _ => return Err(einval()),
        };
        let Some(p) = self.patches.get(idx) else {
            return Err(MibWriteError::NotFound);
        };
        if p.enabled == enable {
            return Err(einval());
        }
        let name = p.name.clone();
        match &self.transition {
            Some(tr) if tr.patch == name => {
                self.reverse();
                Ok(())
            }
            Some(_) if !enable => Err(ebusy()),
            None if !enable => {
                self.start_unpatching(idx);
                Ok(())
            }
            _ => Err(einval()),
        }
    }

    fn reverse(&mut self) {
        let Some(tr) = &mut self.transition else {
            return;
        };
        tr.target = tr.target.reversed();
        // Threads not yet moved are already where the new target is; the
        // ones that moved must come back.
        tr.at_target = tr.total - tr.at_target.min(tr.total);
        std::mem::swap(&mut tr.blocked, &mut tr.parked);
        let pending = tr.pending();
        tr.blocked
            .truncate(usize::try_from(pending).unwrap_or(usize::MAX));
        tr.resummarize();
        tr.pace = Pace::fast(tr.free());
        let (enabled, state) = match tr.target {
            Target::Patched => (true, PatchState::Patching),
            Target::Unpatched => (false, PatchState::Unpatching),
        };
        let name = tr.patch.clone();
        self.stats.reversed += 1;
        if let Some(p) = self.patches.iter_mut().find(|p| p.name == name) {
            p.enabled = enabled;
            p.state = state;
        }
    }

    fn start_unpatching(&mut self, idx: usize) {
        let Some(p) = self.patches.get_mut(idx) else {
            return;
        };
        p.enabled = false;
        p.state = PatchState::Unpatching;
        self.transition = Some(SimTransition::new(
            &p.name,
            Target::Unpatched,
            self.tick,
            self.threads,
            0,
            Vec::new(),
            Pace::fast(self.threads),
        ));
    }

    /// A write of 1 to `kern.livepatch.transition.force`: every pending
    /// thread is marked moved, every loaded patch is marked forced, the
    /// transition completes now. EINVAL when idle.
    pub fn write_force(&mut self, value: i64) -> Result<(), MibWriteError> {
        if value != 1 {
            return Err(einval());
        }
        let Some(tr) = &mut self.transition else {
            return Err(einval());
        };
        tr.forced = true;
        tr.at_target = tr.total;
        tr.blocked.clear();
        tr.parked.clear();
        tr.resummarize();
        for p in &mut self.patches {
            p.forced = true;
        }
        self.complete(true);
        Ok(())
    }

    /// A write of 1 to `kern.livepatch.transition.signal`: every blocked
    /// thread gets a fake signal; those in interruptible sleep wake, leave
    /// the patched function and move; `D` threads sleep on. EINVAL when
    /// idle. Completion, if nobody is left, comes with the next tick.
    pub fn write_signal(&mut self, value: i64) -> Result<(), MibWriteError> {
        if value != 1 {
            return Err(einval());
        }
        let Some(tr) = &mut self.transition else {
            return Err(einval());
        };
        let sent = tr.blocked.len() as u64;
        tr.signals += sent;
        self.stats.signals += sent;
        tr.move_blocked(|t| t.tmpl.wakes_on_signal());
        Ok(())
    }

    /// A write to `kern.livepatch.blocked_max`: 0 to [`BLOCKED_MAX_LIMIT`],
    /// else EINVAL.
    pub fn write_blocked_max(&mut self, value: i64) -> Result<(), MibWriteError> {
        self.blocked_max = u32::try_from(value)
            .ok()
            .filter(|v| *v <= BLOCKED_MAX_LIMIT)
            .ok_or_else(einval)?;
        Ok(())
    }
}

/// Automatic signal rounds of a transition started at `started` in the
/// ticks `(from, to]`: one at every multiple of [`SIGNAL_PERIOD_S`] after
/// the start.
fn signal_rounds(started: i64, from: i64, to: i64) -> u64 {
    let rounds_by = |t: i64| (t - started).max(0) / SIGNAL_PERIOD_S;
    u64::try_from(rounds_by(to) - rounds_by(from)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(tid: u32, state: char, kernel: bool, release_at: Option<i64>) -> SimThread {
        SimThread {
            tid,
            pid: 1,
            since: 0,
            release_at,
            tmpl: Arc::new(ThreadTemplate {
                comm: format!("t{tid}"),
                state,
                kernel,
                wchan: "w".into(),
                blocking: "f".into(),
                stack: vec!["f+0x10".into()],
            }),
        }
    }

    fn patch(name: &str, state: PatchState) -> SimPatch {
        SimPatch {
            name: name.into(),
            enabled: matches!(state, PatchState::Enabled | PatchState::Patching),
            state,
            replace: false,
            signed: 1,
            signer: "k".into(),
            loaded: 0,
            forced: false,
            objects: vec![SimObject {
                name: "kernel".into(),
                loaded: true,
                functions: vec![SimFunction {
                    name: "f".into(),
                    sympos: 0,
                    calls: 0,
                    rate: 100,
                }],
            }],
        }
    }

    fn kernel(blocked: Vec<SimThread>, at_target: u64) -> Kernel {
        Kernel {
            release: "r".into(),
            patches: vec![
                patch("old", PatchState::Enabled),
                patch("new", PatchState::Patching),
            ],
            transition: Some(SimTransition::new(
                "new",
                Target::Patched,
                0,
                100,
                at_target,
                blocked,
                Pace {
                    permille: 100,
                    linear: 1,
                },
            )),
            stats: Stats::default(),
            threads: 100,
            blocked_max: 1024,
            tick: 0,
        }
    }

    #[test]
    fn pace_always_ends() {
        let p = Pace {
            permille: 60,
            linear: 2,
        };
        let mut free = 1_000_000u64;
        let mut ticks = 0;
        while free > 0 {
            free -= p.step(free);
            ticks += 1;
            assert!(ticks < 1000);
        }
        assert_eq!(p.step(0), 0);
        assert_eq!(Pace::fast(10).step(3), 3);
    }

    #[test]
    fn tick_granularity_does_not_matter() {
        let blocked = vec![thread(1, 'D', true, Some(40)), thread(2, 'S', true, None)];
        let mut a = kernel(blocked.clone(), 10);
        let mut b = kernel(blocked, 10);
        a.advance_to(90);
        for t in 1..=90 {
            b.advance_to(t);
        }
        assert_eq!(a, b);
        assert!(a.transition.is_none(), "completed: {:?}", a.transition);
        assert_eq!(a.stats.completed, 1);
    }

    #[test]
    fn automatic_signals_wake_only_interruptible_kernel_threads() {
        let blocked = vec![
            thread(1, 'D', true, None),
            thread(2, 'S', true, None),
            thread(3, 'S', false, None),
        ];
        let mut k = kernel(blocked, 97);
        k.advance_to(14);
        assert_eq!(k.transition.as_ref().map(|t| t.blocked.len()), Some(3));
        k.advance_to(15);
        let tr = k.transition.as_ref().unwrap();
        assert_eq!(tr.signals, 2, "both kernel threads were signalled");
        let tids: Vec<u32> = tr.blocked.iter().map(|t| t.tid).collect();
        assert_eq!(tids, [1, 3]);
        k.advance_to(15 * 100);
        let tr = k.transition.as_ref().unwrap();
        assert_eq!(tr.pending(), 2);
        assert_eq!(tr.signals, 2 + 99);
        assert_eq!(k.stats.signals, 2 + 99);
    }

    #[test]
    fn calls_follow_threads_on_new_code_and_newest_patch() {
        let mut k = kernel(vec![thread(1, 'D', true, None)], 50);
        k.advance_to(1);
        // The old patch's `f` is overridden by the newer one in transition.
        assert_eq!(k.patches[0].objects[0].functions[0].calls, 0);
        // 100 calls/s * ~55 of 100 threads on the new code.
        let c = k.patches[1].objects[0].functions[0].calls;
        assert!((50..=70).contains(&c), "{c}");
    }

    #[test]
    fn reverse_swaps_blockers_and_back() {
        let mut k = kernel(
            vec![thread(1, 'D', true, None), thread(2, 'D', true, None)],
            60,
        );
        k.write_enabled(1, 0).unwrap();
        let tr = k.transition.as_ref().unwrap();
        assert_eq!(
            (tr.target, tr.pending(), tr.blocked.len()),
            (Target::Unpatched, 60, 0)
        );
        assert_eq!(k.patches[1].state, PatchState::Unpatching);
        assert!(!k.patches[1].enabled);
        k.write_enabled(1, 1).unwrap();
        let tr = k.transition.as_ref().unwrap();
        assert_eq!(
            (tr.target, tr.pending(), tr.blocked.len()),
            (Target::Patched, 40, 2)
        );
        assert_eq!(k.stats.reversed, 2);
        k.advance_to(600);
        assert_eq!(k.transition.as_ref().map(|t| t.pending()), Some(2));
    }

    #[test]
    fn write_rules() {
        let mut k = kernel(vec![thread(1, 'D', true, None)], 0);
        let name = |e: MibWriteError| match e {
            MibWriteError::Errno { name, .. } => name,
            other => format!("{other:?}"),
        };
        assert_eq!(name(k.write_enabled(1, 1).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_enabled(0, 0).unwrap_err()), "EBUSY");
        assert_eq!(name(k.write_enabled(0, 1).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_enabled(0, 7).unwrap_err()), "EINVAL");
        assert_eq!(k.write_enabled(9, 0), Err(MibWriteError::NotFound));
        assert_eq!(name(k.write_force(0).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_blocked_max(-1).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_blocked_max(65_537).unwrap_err()), "EINVAL");
        k.write_blocked_max(65_536).unwrap();
        k.write_blocked_max(0).unwrap();
        k.write_force(1).unwrap();
        assert!(k.transition.is_none());
        assert!(k.patches.iter().all(|p| p.forced));
        assert_eq!(name(k.write_force(1).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_signal(1).unwrap_err()), "EINVAL");
        // A disabled patch that is not in transition.
        k.patches[0].enabled = false;
        k.patches[0].state = PatchState::Disabled;
        assert_eq!(name(k.write_enabled(0, 1).unwrap_err()), "EINVAL");
        assert_eq!(name(k.write_enabled(0, 0).unwrap_err()), "EINVAL");
    }

    #[test]
    fn signalling_the_last_blocker_completes_on_the_next_tick() {
        let mut k = kernel(vec![thread(1, 'S', false, None)], 99);
        k.advance_to(100);
        assert_eq!(k.transition.as_ref().map(|t| t.pending()), Some(1));
        k.write_signal(1).unwrap();
        assert_eq!(k.transition.as_ref().map(|t| t.pending()), Some(0));
        k.advance_to(101);
        assert!(k.transition.is_none());
        assert_eq!(k.stats.completed, 1);
        assert_eq!(k.patches[1].state, PatchState::Enabled);
    }

    #[test]
    fn signal_rounds_count_multiples_of_the_period() {
        assert_eq!(signal_rounds(0, 0, 14), 0);
        assert_eq!(signal_rounds(0, 0, 15), 1);
        assert_eq!(signal_rounds(0, 14, 15), 1);
        assert_eq!(signal_rounds(0, 15, 29), 0);
        assert_eq!(signal_rounds(-100, 0, 20), 2); // 5 and 20
        assert_eq!(signal_rounds(10, 0, 9), 0);
    }
}
