//! The built-in simulated kernel (`--source sim`, `patchscope demo`).
//!
//! It follows the live-patch consistency model (klp's, which the FreeBSD
//! module copies) and *publishes the FreeBSD `kern.livepatch` MIB in
//! memory* ([`SimTree`] is a [`MibTree`]), so the demo and most tests run
//! through the same decoder as a real FreeBSD box. Open it with [`open`].
//!
//! # Scenarios
//!
//! Every scenario starts from a kernel with FreeBSD-like content: patches
//! named like `lp-2025.04-tcp` (node component `lp_2025_04_tcp`), signed by
//! a key id such as `livepatch-signing-2025:3f…`, objects `kernel`, `zfs` or
//! an unloaded module (`tcp_rack`: enabled but not patched), per-function
//! call counters that grow while threads run the new code, and lifetime
//! counters (transitions completed, reversed, forced, signals sent).
//!
//! | name | what it shows |
//! |------|---------------|
//! | `healthy` | three signed patches enabled, no transition. |
//! | `progressing` | `lp-2025.06-tcp-sack` patching, started 6 s before open; the free threads move over about 40 s; three threads block for a while: a kernel thread `kernel{tcp_hpts 0}` in interruptible sleep that the first automatic signal wakes, an `nginx` reader and a hostile-named reader whose reads return after 20–35 s. Completes by itself within a minute of opening. |
//! | `stalled` (default of `patchscope demo`) | `lp-2025.06-zfs-txg` (7 functions in `kernel` and `zfs`) patching since 2.5–4 minutes, every thread moved except six that sleep in patched functions: `D` kernel threads `zfskern{txg_thread_enter}` (in `txg_sync_thread`), `geom{g_down}` (in `g_io_schedule_down`, wait channel `-`), `syncer` (in `bufwait`), an `nfsd: service` thread that never returns to user space (in `zio_wait`), a `D` user thread whose name holds terminal escapes (in `txg_wait_synced`), and one `S` user thread `postgres` (in `kern_poll` via `seltdwait`) that a signal frees. It stays stalled until revert or force. |
//! | `replace` | `lp-2025.07-cumulative`, a cumulative (replace) patch covering the three older patches, patching since 10 s; a `D` ZFS sync thread and a hostile-named reader hold it for 30–60 s. When it completes the three older patches disappear and it is the only one. |
//! | `storm` | `lp-2025.06-kqueue` stalled with a tenth of the threads blocked (at most 100,000): `S` event-loop workers (`nginx`, `php-fpm`, `redis-server`, `node`, `postgres`), `D` readers waiting for ZFS (`rsync`, `postgres`, `tar`), `D` kernel threads, one hostile name. `transition.blocked` lists the first `blocked_max` (1024) of them, `nblocked` counts all. For console and exporter load tests. |
//! | `signatures` | no transition; one patch per signature status: verified, unknown (loaded before the key ring), unsigned, and `lp-2025.06-hotfix` refused for a bad signature (signed by a retired key) and so loaded but disabled. |
//!
//! Every scenario with blocked threads has one whose name holds an OSC
//! title sequence and a clear-screen escape ([`HOSTILE_COMM`]), so
//! sanitising is exercised whenever the demo runs.
//!
//! # Model
//!
//! * `--threads N` (default [`DEFAULT_THREADS`]) is the number of threads in
//!   the system; all take part in a transition. Threads are counts; only
//!   blocked threads are explicit, so a million threads cost nothing.
//! * The kernel retries once per second: threads whose sleep ended leave
//!   the patched function and move, the other pending threads move at a
//!   pace that falls over time.
//! * Every 15 s of a transition the kernel sends fake signals to the blocked
//!   *kernel* threads (counted per thread in `transition.signals` and
//!   `stats.signals_sent`); those in interruptible sleep (`S`) wake and move,
//!   `D` ones sleep on. User threads are signalled only on request: a write
//!   of 1 to `transition.signal` signals every blocked thread, and the `S`
//!   ones move at once. EINVAL when idle.
//! * Writing 0 to `patch.<p>.enabled` disables an enabled patch (an
//!   unpatching transition that completes within seconds) or reverses the
//!   transition of that patch: threads that moved go back, threads that were
//!   blocked never moved and block nothing, so it completes within seconds.
//!   Writing 1 reverses an unpatching. The value the patch already has, or 1
//!   on a disabled patch: EINVAL; any write while another patch is in
//!   transition: EBUSY. A reversal keeps the transition's start time.
//! * Writing 1 to `transition.force` completes the transition at once,
//!   marks every loaded patch forced for good (`patch.<p>.forced`, a leaf
//!   beyond ABI 1.0) and counts `stats.transitions_forced`. EINVAL when idle.
//! * When an unpatching completes the patch is gone, as on Linux; when a
//!   replace patch's patching completes, every other patch is gone.
//! * Counters: `transitions_completed` counts transitions that reached
//!   their target by themselves (a reversed one when it reaches its new
//!   target), `transitions_forced` the forced ones (not also completed),
//!   `transitions_reversed` each reversal.
//!
//! # Time and reproducibility
//!
//! With [`SimClock::Real`] the kernel runs in real time, so a console
//! watching it sees progress. With [`SimClock::Manual`] time starts at
//! [`MANUAL_EPOCH`] and moves only by [`SimTree::advance`] (reach it with
//! [`MibSource::tree_mut`]): tests are deterministic and never sleep. The
//! state after a given time does not depend on how the time was handed in.
//! `--seed` fixes names, tids, pids, stack offsets, rates and timings: with
//! the manual clock, the same configuration publishes the same MIB.

mod kernel;
mod publish;
mod rng;
mod scenario;

use std::time::{Duration, Instant};

pub use scenario::{HOSTILE_COMM, STORM_MAX_BLOCKED, Scenario, UnknownScenario};

use crate::error::SourceError;
use crate::model::SourceKind;
use crate::source::freebsd::{MibSource, MibTree, MibValue, MibWriteError, mib};
use kernel::Kernel;

/// Threads of a simulated system by default (a busy FreeBSD server).
pub const DEFAULT_THREADS: u64 = 2000;
/// Seed by default.
pub const DEFAULT_SEED: u64 = 1;
/// Most threads the simulator accepts.
pub const MAX_THREADS: u64 = 1_000_000_000;
/// Unix time at which a [`SimClock::Manual`] simulator starts
/// (2025-06-15T15:06:40Z).
pub const MANUAL_EPOCH: i64 = 1_750_000_000;

/// How simulated time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimClock {
    /// Real time, from the wall clock at open (consoles, exporters).
    #[default]
    Real,
    /// Starts at [`MANUAL_EPOCH`] and moves only by [`SimTree::advance`]
    /// (tests).
    Manual,
}

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// The starting state.
    pub scenario: Scenario,
    /// Threads in the system, 1 to [`MAX_THREADS`].
    pub threads: u64,
    /// Seed of names, tids, stacks and timings.
    pub seed: u64,
    /// How time passes.
    pub clock: SimClock,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            scenario: Scenario::default(),
            threads: DEFAULT_THREADS,
            seed: DEFAULT_SEED,
            clock: SimClock::Real,
        }
    }
}

impl SimConfig {
    /// `scenario` with the defaults and a manual clock (tests).
    pub fn manual(scenario: Scenario) -> Self {
        Self {
            scenario,
            clock: SimClock::Manual,
            ..Self::default()
        }
    }
}

/// Open the simulated kernel, read through the FreeBSD MIB decoder.
pub fn open(cfg: SimConfig) -> Result<MibSource<SimTree>, SourceError> {
    Ok(MibSource::new(SimTree::new(cfg)?, SourceKind::Sim))
}

#[derive(Debug, Clone)]
enum Clock {
    /// Milliseconds since origin = `start_ms` + wall time since `start` +
    /// `skipped_ms` (advanced by hand).
    Real {
        start: Instant,
        start_ms: u64,
        skipped_ms: u64,
    },
    Manual {
        now_ms: u64,
    },
}

/// The simulated kernel as a MIB tree.
#[derive(Debug, Clone)]
pub struct SimTree {
    config: SimConfig,
    kernel: Kernel,
    clock: Clock,
    /// Unix second of kernel second 0.
    origin: i64,
}

impl SimTree {
    /// Build the scenario's kernel. Errors when `threads` is out of range.
    pub fn new(config: SimConfig) -> Result<Self, SourceError> {
        if !(1..=MAX_THREADS).contains(&config.threads) {
            return Err(SourceError::parse(
                "--threads",
                format!(
                    "{} threads is out of range: the simulator runs 1 to {MAX_THREADS}",
                    config.threads
                ),
            ));
        }
        let (origin, clock) = match config.clock {
            SimClock::Manual => (MANUAL_EPOCH, Clock::Manual { now_ms: 0 }),
            SimClock::Real => {
                // Kernel seconds fall on wall-clock seconds.
                let now = crate::source::unix_now();
                let origin = now.floor();
                let start_ms = ((now - origin) * 1000.0) as u64;
                (
                    origin as i64,
                    Clock::Real {
                        start: Instant::now(),
                        start_ms,
                        skipped_ms: 0,
                    },
                )
            }
        };
        Ok(Self {
            kernel: scenario::build(config.scenario, config.threads, config.seed),
            config,
            clock,
            origin,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Move simulated time forward by `by` (with the real clock: skip
    /// ahead). The kernel runs every second in between.
    pub fn advance(&mut self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        match &mut self.clock {
            Clock::Real { skipped_ms, .. } => *skipped_ms = skipped_ms.saturating_add(ms),
            Clock::Manual { now_ms } => *now_ms = now_ms.saturating_add(ms),
        }
        self.sync();
    }

    fn now_ms(&self) -> u64 {
        match &self.clock {
            Clock::Real {
                start,
                start_ms,
                skipped_ms,
            } => {
                let wall = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                start_ms.saturating_add(wall).saturating_add(*skipped_ms)
            }
            Clock::Manual { now_ms } => *now_ms,
        }
    }

    /// The simulated kernel's clock, Unix seconds.
    pub fn now(&self) -> f64 {
        self.origin as f64 + self.now_ms() as f64 / 1000.0
    }

    /// Run the kernel up to now.
    fn sync(&mut self) {
        let second = i64::try_from(self.now_ms() / 1000).unwrap_or(i64::MAX);
        self.kernel.advance_to(second);
    }

    fn nodes(&self) -> Vec<(String, MibValue)> {
        publish::publish(&self.kernel, self.origin, self.origin + self.kernel.tick)
    }
}

fn eperm() -> MibWriteError {
    MibWriteError::Errno {
        errno: libc::EPERM,
        name: "EPERM".to_string(),
    }
}

impl MibTree for SimTree {
    fn clock(&self) -> Option<f64> {
        Some(self.now())
    }

    fn read_all(&mut self, root: &str) -> Result<Vec<(String, MibValue)>, SourceError> {
        self.sync();
        let mut nodes = self.nodes();
        let root = root.trim_end_matches('.');
        nodes.retain(|(name, _)| {
            name == root
                || (name.len() > root.len()
                    && name.starts_with(root)
                    && name.as_bytes().get(root.len()) == Some(&b'.'))
        });
        Ok(nodes)
    }

    fn write_int(&mut self, node: &str, value: i64) -> Result<(), MibWriteError> {
        self.sync();
        match node {
            mib::TR_FORCE => return self.kernel.write_force(value),
            mib::TR_SIGNAL => return self.kernel.write_signal(value),
            mib::BLOCKED_MAX => return self.kernel.write_blocked_max(value),
            _ => {}
        }
        let enabled = node
            .strip_prefix(mib::PATCH_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(mib::patch_leaf::ENABLED))
            .and_then(|r| r.strip_suffix('.'));
        if let Some(comp) = enabled
            && let Some(idx) = publish::patch_components(&self.kernel)
                .iter()
                .position(|c| c == comp)
        {
            return self.kernel.write_enabled(idx, value);
        }
        // Every other node is read-only, as sysctl says with EPERM.
        if self.nodes().iter().any(|(n, _)| n == node) {
            Err(eperm())
        } else {
            Err(MibWriteError::NotFound)
        }
    }

    fn location(&self) -> String {
        format!(
            "simulated kernel (scenario {}, seed {}, {} threads)",
            self.config.scenario, self.config.seed, self.config.threads
        )
    }

    fn writable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
