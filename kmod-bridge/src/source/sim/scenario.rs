//! The named scenarios and the seeded content they start with: FreeBSD-like
//! patches, thread names, kernel stacks, wait channels and timings.
//!
//! Everything random comes from [`Rng`] streams derived from the seed and a
//! label, so the same `--seed` gives the same kernel, and adding a draw in
//! one place does not shift another.

use std::str::FromStr;
use std::sync::Arc;

use super::kernel::{
    Kernel, Pace, SimFunction, SimObject, SimPatch, SimThread, SimTransition, Stats, ThreadTemplate,
};
use super::rng::Rng;
use crate::model::{PatchState, Target};
use crate::source::freebsd::mib;

/// A named starting state of the simulated kernel. See the [module
/// documentation of `sim`](super) for what each one shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scenario {
    /// A few patches enabled, no transition.
    Healthy,
    /// A transition that completes by itself within about a minute.
    Progressing,
    /// A transition held forever by a few sleeping threads.
    #[default]
    Stalled,
    /// A cumulative patch replacing the older ones.
    Replace,
    /// A transition blocked by a large share of the threads (load tests).
    Storm,
    /// Idle, with every signature status: verified, unsigned, bad, unknown.
    Signatures,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Healthy,
        Scenario::Progressing,
        Scenario::Stalled,
        Scenario::Replace,
        Scenario::Storm,
        Scenario::Signatures,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::Progressing => "progressing",
            Scenario::Stalled => "stalled",
            Scenario::Replace => "replace",
            Scenario::Storm => "storm",
            Scenario::Signatures => "signatures",
        }
    }

    /// One line saying what the scenario shows.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Healthy => "three signed patches enabled, no transition",
            Scenario::Progressing => {
                "a patch in transition that completes by itself within about a minute"
            }
            Scenario::Stalled => {
                "a transition held forever by sleeping threads (D kernel threads, one S user thread a signal frees) until revert or force"
            }
            Scenario::Replace => {
                "a cumulative patch in transition; when it completes the patches it replaces disappear"
            }
            Scenario::Storm => {
                "a stalled transition with a tenth of the threads blocked (at most 100,000), for load tests"
            }
            Scenario::Signatures => {
                "no transition; patches verified, unsigned, with an unknown signature, and one refused for a bad signature"
            }
        }
    }

    /// `name: description` lines for `--help` and error messages.
    pub fn help() -> String {
        Scenario::ALL
            .iter()
            .map(|s| format!("{}: {}", s.name(), s.description()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scenario name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scenario '{0}': use one of healthy, progressing, stalled, replace, storm, signatures"
)]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim();
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name().eq_ignore_ascii_case(want))
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// A thread name that rewrites the terminal (OSC window title, clear
/// screen): a user can name a thread anything, so the console must
/// sanitise. 17 bytes, within FreeBSD's `MAXCOMLEN` of 19.
pub const HOSTILE_COMM: &str = "job\u{1b}]2;pwned\u{7}\u{1b}[2J";

/// Most blocked threads a storm lists.
pub const STORM_MAX_BLOCKED: u64 = 100_000;

/// A patch in the catalogue: name and objects (name, module loaded,
/// functions).
struct Spec {
    name: &'static str,
    replace: bool,
    objects: &'static [(&'static str, bool, &'static [&'static str])],
}

const VFS: Spec = Spec {
    name: "lp-2025.03-vfs",
    replace: false,
    objects: &[("kernel", true, &["vn_read", "vn_write", "vop_stdadvise"])],
};
const TCP: Spec = Spec {
    name: "lp-2025.04-tcp",
    replace: false,
    // tcp_rack is not loaded: the patch is enabled, that object not patched.
    objects: &[
        ("kernel", true, &["tcp_input", "tcp_do_segment"]),
        ("tcp_rack", false, &["rack_do_segment"]),
    ],
};
const ZFS: Spec = Spec {
    name: "lp-2025.05-zfs",
    replace: false,
    objects: &[("zfs", true, &["zfs_read", "dmu_read_uio_dnode"])],
};
const TXG: Spec = Spec {
    name: "lp-2025.06-zfs-txg",
    replace: false,
    objects: &[
        (
            "kernel",
            true,
            &["g_io_schedule_down", "kern_poll", "bufwait"],
        ),
        (
            "zfs",
            true,
            &[
                "txg_sync_thread",
                "txg_wait_synced",
                "zio_wait",
                "dmu_tx_assign",
            ],
        ),
    ],
};
const SACK: Spec = Spec {
    name: "lp-2025.06-tcp-sack",
    replace: false,
    objects: &[(
        "kernel",
        true,
        &[
            "tcp_do_segment",
            "tcp_sack_doack",
            "tcp_output",
            "soreceive_stream",
            "tcp_hpts_thread",
        ],
    )],
};
const CUMULATIVE: Spec = Spec {
    name: "lp-2025.07-cumulative",
    replace: true,
    objects: &[
        (
            "kernel",
            true,
            &[
                "vn_read",
                "vn_write",
                "vop_stdadvise",
                "tcp_input",
                "tcp_do_segment",
                "vm_fault",
            ],
        ),
        ("tcp_rack", false, &["rack_do_segment"]),
        ("zfs", true, &["zfs_read", "dmu_read_uio_dnode", "zio_wait"]),
    ],
};
const KQUEUE: Spec = Spec {
    name: "lp-2025.06-kqueue",
    replace: false,
    objects: &[
        (
            "kernel",
            true,
            &[
                "kqueue_scan",
                "kern_kevent",
                "seltdwait",
                "kern_poll",
                "g_io_schedule_down",
            ],
        ),
        ("zfs", true, &["zio_wait", "txg_sync_thread"]),
    ],
};
const HOTFIX: Spec = Spec {
    name: "lp-2025.06-hotfix",
    replace: false,
    objects: &[("kernel", true, &["sys_sendfile", "vn_sendfile"])],
};

// Stack shapes, innermost first (as `procstat -kk` prints them, without
// offsets). Sleeps: uninterruptible on a condvar or msleep, interruptible
// with a timeout.
const CV_WAIT: &[&str] = &["mi_switch", "sleepq_switch", "sleepq_wait", "_cv_wait"];
const SLEEP: &[&str] = &["mi_switch", "sleepq_switch", "sleepq_wait", "_sleep"];
const SLEEP_SIG: &[&str] = &[
    "mi_switch",
    "sleepq_switch",
    "sleepq_catch_signals",
    "sleepq_timedwait_sig",
    "_sleep",
];
const KTHREAD_BOTTOM: &[&str] = &["fork_exit", "fork_trampoline"];
const SYSCALL_BOTTOM: &[&str] = &["amd64_syscall", "fast_syscall_common"];

/// A place threads sleep: who, how, where.
struct Sleeper {
    comm: &'static str,
    state: char,
    kernel: bool,
    wchan: &'static str,
    frames: &'static [&'static [&'static str]],
}

const TXG_SYNC: Sleeper = Sleeper {
    comm: "zfskern{txg_thread_enter}",
    state: 'D',
    kernel: true,
    wchan: "tx->tx_sync_more_cv",
    frames: &[
        CV_WAIT,
        &["txg_thread_wait", "txg_sync_thread"],
        KTHREAD_BOTTOM,
    ],
};
const TXG_ZIO: Sleeper = Sleeper {
    comm: "zfskern{txg_thread_enter}",
    state: 'D',
    kernel: true,
    wchan: "zio->io_cv",
    frames: &[
        CV_WAIT,
        &["zio_wait", "dsl_pool_sync", "spa_sync", "txg_sync_thread"],
        KTHREAD_BOTTOM,
    ],
};
const G_DOWN: Sleeper = Sleeper {
    comm: "geom{g_down}",
    state: 'D',
    kernel: true,
    // GEOM really sleeps with the wait message "-": published as %2D.
    wchan: "-",
    frames: &[
        SLEEP,
        &["g_io_schedule_down", "g_down_procbody"],
        KTHREAD_BOTTOM,
    ],
};
const SYNCER: Sleeper = Sleeper {
    comm: "syncer",
    state: 'D',
    kernel: true,
    wchan: "biowr",
    frames: &[
        SLEEP,
        &[
            "bufwait",
            "bufwrite",
            "ffs_syncvnode",
            "sync_vnode",
            "sched_sync",
        ],
        KTHREAD_BOTTOM,
    ],
};
const NFSD: Sleeper = Sleeper {
    comm: "nfsd: service",
    state: 'D',
    // A user process whose threads never return to user space.
    kernel: false,
    wchan: "zio->io_cv",
    frames: &[
        CV_WAIT,
        &[
            "zio_wait",
            "zil_commit_impl",
            "zfs_fsync",
            "VOP_FSYNC_APV",
            "nfsrvd_commit",
            "nfsrvd_dorpc",
            "nfssvc_program",
            "svc_run_internal",
            "svc_thread_start",
        ],
        KTHREAD_BOTTOM,
    ],
};
const HOSTILE_SYNC: Sleeper = Sleeper {
    comm: HOSTILE_COMM,
    state: 'D',
    kernel: false,
    wchan: "tx->tx_sync_done_cv",
    frames: &[
        CV_WAIT,
        &["txg_wait_synced", "zfs_sync", "sys_sync"],
        SYSCALL_BOTTOM,
    ],
};
const POSTGRES_POLL: Sleeper = Sleeper {
    comm: "postgres",
    state: 'S',
    kernel: false,
    wchan: "select",
    frames: &[
        &[
            "mi_switch",
            "sleepq_switch",
            "sleepq_catch_signals",
            "sleepq_timedwait_sig",
            "_cv_timedwait_sig_sbt",
        ],
        &["seltdwait", "kern_poll", "sys_poll"],
        SYSCALL_BOTTOM,
    ],
};
const HPTS: Sleeper = Sleeper {
    comm: "kernel{tcp_hpts 0}",
    state: 'S',
    kernel: true,
    wchan: "hpts",
    frames: &[SLEEP_SIG, &["tcp_hpts_thread"], KTHREAD_BOTTOM],
};
const NGINX_READ: Sleeper = Sleeper {
    comm: "nginx",
    state: 'S',
    kernel: false,
    wchan: "sbwait",
    frames: &[
        SLEEP_SIG,
        &[
            "sbwait",
            "soreceive_stream",
            "dofileread",
            "kern_readv",
            "sys_read",
        ],
        SYSCALL_BOTTOM,
    ],
};
const HOSTILE_READ_S: Sleeper = Sleeper {
    comm: HOSTILE_COMM,
    state: 'S',
    kernel: false,
    wchan: "sbwait",
    frames: &[
        SLEEP_SIG,
        &[
            "sbwait",
            "soreceive_stream",
            "dofileread",
            "kern_readv",
            "sys_read",
        ],
        SYSCALL_BOTTOM,
    ],
};
const HOSTILE_ZFS_READ: Sleeper = Sleeper {
    comm: HOSTILE_COMM,
    state: 'D',
    kernel: false,
    wchan: "zfs_rangelock",
    frames: &[
        CV_WAIT,
        &[
            "zfs_rangelock_enter",
            "zfs_read",
            "zfs_freebsd_read",
            "VOP_READ_APV",
            "vn_read",
            "vn_io_fault",
            "dofileread",
            "kern_readv",
            "sys_read",
        ],
        SYSCALL_BOTTOM,
    ],
};
/// Storm sleepers: user threads waiting for events (interruptible), user
/// threads waiting for disk (uninterruptible), kernel threads.
const KEVENT_FRAMES: &[&[&str]] = &[
    SLEEP_SIG,
    &[
        "kqueue_scan",
        "kern_kevent_fp",
        "kern_kevent",
        "kern_kevent_generic",
        "sys_kevent",
    ],
    SYSCALL_BOTTOM,
];
const ZIO_READ_FRAMES: &[&[&str]] = &[
    CV_WAIT,
    &[
        "zio_wait",
        "dmu_buf_hold_array_by_dnode",
        "dmu_read_uio_dnode",
        "zfs_read",
        "zfs_freebsd_read",
        "VOP_READ_APV",
        "vn_read",
        "dofileread",
        "kern_readv",
        "sys_read",
    ],
    SYSCALL_BOTTOM,
];
const STORM_USER_S: &[Sleeper] = &[
    Sleeper {
        comm: "nginx",
        state: 'S',
        kernel: false,
        wchan: "kqread",
        frames: KEVENT_FRAMES,
    },
    Sleeper {
        comm: "php-fpm",
        state: 'S',
        kernel: false,
        wchan: "kqread",
        frames: KEVENT_FRAMES,
    },
    Sleeper {
        comm: "redis-server",
        state: 'S',
        kernel: false,
        wchan: "kqread",
        frames: KEVENT_FRAMES,
    },
    Sleeper {
        comm: "node",
        state: 'S',
        kernel: false,
        wchan: "kqread",
        frames: KEVENT_FRAMES,
    },
    POSTGRES_POLL,
];
const STORM_USER_D: &[Sleeper] = &[
    Sleeper {
        comm: "rsync",
        state: 'D',
        kernel: false,
        wchan: "zio->io_cv",
        frames: ZIO_READ_FRAMES,
    },
    Sleeper {
        comm: "postgres",
        state: 'D',
        kernel: false,
        wchan: "zio->io_cv",
        frames: ZIO_READ_FRAMES,
    },
    Sleeper {
        comm: "tar",
        state: 'D',
        kernel: false,
        wchan: "zio->io_cv",
        frames: ZIO_READ_FRAMES,
    },
];
const STORM_KERNEL: &[Sleeper] = &[TXG_SYNC, G_DOWN];

/// Builds the initial kernel of a scenario.
struct Builder {
    seed: u64,
    key: String,
}

impl Builder {
    fn new(seed: u64) -> Self {
        let key = format!(
            "livepatch-signing-2025:{:016x}",
            Rng::derive(seed, "signing key").next_u64()
        );
        Self { seed, key }
    }

    /// `func+0xoff`: the offset depends on the seed and the function only,
    /// so the same function shows the same offset in every stack.
    fn frame(&self, func: &str) -> String {
        // Assembly entry points are tiny and their return addresses fixed.
        let off = match func {
            "fork_trampoline" => 0xe,
            "fast_syscall_common" => 0x101,
            _ => 0x10 + Rng::derive(self.seed, func).below(0x3f0),
        };
        format!("{func}+{off:#x}")
    }

    fn patch(&self, spec: &Spec, state: PatchState, loaded: i64, now: i64) -> SimPatch {
        let mut rng = Rng::derive(self.seed, spec.name);
        // Replacement functions run at all rates: hot network paths, rare
        // sync paths.
        let age = u64::try_from(now - loaded).unwrap_or(0);
        let objects = spec
            .objects
            .iter()
            .map(|&(name, loaded_obj, funcs)| SimObject {
                name: name.to_string(),
                loaded: loaded_obj,
                functions: funcs
                    .iter()
                    .map(|&f| {
                        let rate = 10u64.pow(u32::try_from(rng.range(0, 4)).unwrap_or(1))
                            * rng.range(1, 9);
                        let active = loaded_obj && state == PatchState::Enabled;
                        SimFunction {
                            name: f.to_string(),
                            sympos: 0,
                            calls: if active { rate * age } else { 0 },
                            rate,
                        }
                    })
                    .collect(),
            })
            .collect();
        SimPatch {
            name: spec.name.to_string(),
            enabled: matches!(state, PatchState::Enabled | PatchState::Patching),
            state,
            replace: spec.replace,
            signed: mib::sig::VERIFIED,
            signer: self.key.clone(),
            loaded,
            forced: false,
            objects,
        }
    }

    /// An enabled patch loaded `days` (plus some seeded minutes) ago.
    fn enabled(&self, spec: &Spec, days: i64) -> SimPatch {
        let mins = i64::try_from(Rng::derive(self.seed, spec.name).range(0, 1439)).unwrap_or(0);
        self.patch(spec, PatchState::Enabled, -(days * 86_400 + mins * 60), 0)
    }

    fn template(&self, s: &Sleeper, patch: &Spec) -> Arc<ThreadTemplate> {
        let funcs: Vec<&str> = s
            .frames
            .iter()
            .flat_map(|part| part.iter().copied())
            .collect();
        let patched = |f: &str| patch.objects.iter().any(|(_, _, fs)| fs.contains(&f));
        Arc::new(ThreadTemplate {
            comm: s.comm.to_string(),
            state: s.state,
            kernel: s.kernel,
            wchan: s.wchan.to_string(),
            blocking: funcs
                .iter()
                .find(|f| patched(f))
                .map(|f| f.to_string())
                .unwrap_or_default(),
            stack: funcs.iter().map(|f| self.frame(f)).collect(),
        })
    }

    /// Explicit blocked threads: kernel threads get low tids and pids,
    /// user threads higher ones, as on FreeBSD (tids start at 100000).
    fn sleepers(
        &self,
        patch: &Spec,
        list: &[(&Sleeper, Option<i64>)],
        started: i64,
    ) -> Vec<SimThread> {
        let mut rng = Rng::derive(self.seed, "sleepers");
        let mut ktid = 100_000 + rng.range(20, 60);
        let mut utid = 100_500 + rng.range(0, 20_000);
        list.iter()
            .map(|&(s, release_after)| {
                let (tid, pid) = if s.kernel {
                    ktid += rng.range(3, 40);
                    let pid = match s.comm {
                        c if c.starts_with("zfskern") => rng.range(5, 9),
                        c if c.starts_with("geom") => rng.range(10, 14),
                        "syncer" => rng.range(18, 24),
                        _ => 0,
                    };
                    (ktid, pid)
                } else {
                    utid += rng.range(7, 3_000);
                    (utid, rng.range(700, 68_000))
                };
                SimThread {
                    tid: u32::try_from(tid).unwrap_or(u32::MAX),
                    pid: u32::try_from(pid).unwrap_or(0),
                    since: started + i64::try_from(rng.range(1, 3)).unwrap_or(1),
                    release_at: release_after.map(|r| started + r),
                    tmpl: self.template(s, patch),
                }
            })
            .collect()
    }

    /// A storm's blocked threads: `n` threads from a dozen templates, tids
    /// ascending with seeded gaps. One draw per thread, shared templates.
    fn storm_threads(&self, patch: &Spec, n: u64, started: i64) -> Vec<SimThread> {
        let mut rng = Rng::derive(self.seed, "storm");
        let user_s: Vec<_> = STORM_USER_S
            .iter()
            .map(|s| self.template(s, patch))
            .collect();
        let user_d: Vec<_> = STORM_USER_D
            .iter()
            .map(|s| self.template(s, patch))
            .collect();
        let kern: Vec<_> = STORM_KERNEL
            .iter()
            .map(|s| self.template(s, patch))
            .collect();
        let hostile = self.template(&HOSTILE_SYNC_STORM, patch);
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut tid = 100_000u64 + rng.range(100, 200);
        // Processes of a kind share pids: workers of a few servers.
        let base_pid = rng.range(900, 5_000);
        for i in 0..n {
            let r = rng.next_u64();
            tid += 1 + (r & 7);
            let pick = (r >> 8) % 100;
            let (tmpl, pid) = if i == 0 {
                (hostile.clone(), base_pid + 77)
            } else if pick < 5 {
                let t = pick_from(&kern, (r >> 16) % 2, &hostile);
                (t, 5 + (r >> 16) % 2 * 6)
            } else if pick < 15 {
                let k = (r >> 16) % user_d.len() as u64;
                (
                    pick_from(&user_d, k, &hostile),
                    base_pid + 1_000 + k * 40 + (r >> 24) % 40,
                )
            } else {
                let k = (r >> 16) % user_s.len() as u64;
                (
                    pick_from(&user_s, k, &hostile),
                    base_pid + 5_000 + k * 200 + (r >> 24) % 200,
                )
            };
            out.push(SimThread {
                tid: u32::try_from(tid).unwrap_or(u32::MAX),
                pid: u32::try_from(pid).unwrap_or(0),
                since: started + 1 + i64::try_from((r >> 32) % 20).unwrap_or(0),
                release_at: None,
                tmpl,
            });
        }
        out
    }
}

/// The hostile thread of a storm sleeps in a function of the storm patch.
const HOSTILE_SYNC_STORM: Sleeper = Sleeper {
    comm: HOSTILE_COMM,
    state: 'D',
    kernel: false,
    wchan: "zio->io_cv",
    frames: ZIO_READ_FRAMES,
};

/// The pace of a transition whose free threads started moving a few
/// seconds ago: about 40 ticks to the end.
fn moving_pace(free: u64) -> Pace {
    Pace {
        permille: 60,
        linear: (free / 200).max(1),
    }
}

/// Template `k` of `list` (`k` is taken modulo the length by the caller),
/// or `fallback` should it ever be out of range.
fn pick_from<T: Clone>(list: &[T], k: u64, fallback: &T) -> T {
    usize::try_from(k)
        .ok()
        .and_then(|k| list.get(k))
        .unwrap_or(fallback)
        .clone()
}

/// The initial kernel of `scenario` with `threads` threads (at least 1) and
/// `seed`, at kernel second 0.
pub fn build(scenario: Scenario, threads: u64, seed: u64) -> Kernel {
    let b = Builder::new(seed);
    let mut rng = Rng::derive(seed, "timing");
    let mut k = Kernel {
        release: "14.2-RELEASE-p3 GENERIC".to_string(),
        patches: Vec::new(),
        transition: None,
        stats: Stats::default(),
        threads,
        blocked_max: mib::BLOCKED_MAX_DEFAULT,
        tick: 0,
    };
    // A kernel that has seen a few transitions already.
    k.stats = Stats {
        completed: rng.range(3, 9),
        reversed: rng.range(0, 1),
        forced: 0,
        signals: rng.range(0, 40),
    };
    match scenario {
        Scenario::Healthy => {
            k.patches = vec![b.enabled(&VFS, 41), b.enabled(&TCP, 22), b.enabled(&ZFS, 9)];
        }
        Scenario::Signatures => {
            let mut vfs = b.enabled(&VFS, 41);
            vfs.signed = mib::sig::VERIFIED;
            // Loaded at boot, before the key ring was available.
            let mut tcp = b.enabled(&TCP, 22);
            tcp.signed = mib::sig::UNKNOWN;
            tcp.signer = String::new();
            let mut zfs = b.enabled(&ZFS, 9);
            zfs.signed = mib::sig::UNSIGNED;
            zfs.signer = String::new();
            // Refused: signed with a retired key, never enabled.
            let mut hotfix = b.patch(&HOTFIX, PatchState::Disabled, -3_600, 0);
            hotfix.signed = mib::sig::BAD;
            hotfix.signer = format!(
                "livepatch-signing-2024:{:016x}",
                Rng::derive(seed, "retired key").next_u64()
            );
            k.patches = vec![vfs, tcp, zfs, hotfix];
        }
        Scenario::Stalled => {
            let started = -i64::try_from(rng.range(150, 240)).unwrap_or(180);
            let blocked = b.sleepers(
                &TXG,
                &[
                    (&TXG_SYNC, None),
                    (&G_DOWN, None),
                    (&SYNCER, None),
                    (&NFSD, None),
                    (&HOSTILE_SYNC, None),
                    (&POSTGRES_POLL, None),
                ],
                started,
            );
            k.patches = vec![
                b.enabled(&VFS, 41),
                b.enabled(&TCP, 22),
                b.enabled(&ZFS, 9),
                b.patch(&TXG, PatchState::Patching, started - 1, 0),
            ];
            // Everyone else has moved long ago.
            let at_target = threads.saturating_sub(blocked.len() as u64);
            k.transition = Some(SimTransition::new(
                TXG.name,
                Target::Patched,
                started,
                threads,
                at_target,
                blocked,
                moving_pace(0),
            ));
        }
        Scenario::Progressing => {
            let started = -6;
            let blocked = b.sleepers(
                &SACK,
                &[
                    // Woken by the first automatic signal (kernel thread).
                    (&HPTS, None),
                    // Their reads return.
                    (
                        &NGINX_READ,
                        Some(i64::try_from(rng.range(18, 26)).unwrap_or(20)),
                    ),
                    (
                        &HOSTILE_READ_S,
                        Some(i64::try_from(rng.range(28, 36)).unwrap_or(30)),
                    ),
                ],
                started,
            );
            k.patches = vec![
                b.enabled(&VFS, 41),
                b.enabled(&TCP, 22),
                b.patch(&SACK, PatchState::Patching, started - 1, 0),
            ];
            let nonblocked = threads.saturating_sub(blocked.len() as u64);
            let free = nonblocked * rng.range(50, 60) / 100;
            k.transition = Some(SimTransition::new(
                SACK.name,
                Target::Patched,
                started,
                threads,
                nonblocked - free,
                blocked,
                moving_pace(free),
            ));
        }
        Scenario::Replace => {
            let started = -10;
            let blocked = b.sleepers(
                &CUMULATIVE,
                &[
                    (
                        &TXG_ZIO,
                        Some(i64::try_from(rng.range(50, 60)).unwrap_or(55)),
                    ),
                    (
                        &HOSTILE_ZFS_READ,
                        Some(i64::try_from(rng.range(30, 40)).unwrap_or(35)),
                    ),
                ],
                started,
            );
            k.patches = vec![
                b.enabled(&VFS, 41),
                b.enabled(&TCP, 22),
                b.enabled(&ZFS, 9),
                b.patch(&CUMULATIVE, PatchState::Patching, started - 1, 0),
            ];
            let nonblocked = threads.saturating_sub(blocked.len() as u64);
            let free = nonblocked * rng.range(40, 50) / 100;
            k.transition = Some(SimTransition::new(
                CUMULATIVE.name,
                Target::Patched,
                started,
                threads,
                nonblocked - free,
                blocked,
                moving_pace(free),
            ));
        }
        Scenario::Storm => {
            let started = -i64::try_from(rng.range(200, 400)).unwrap_or(300);
            let n = (threads / 10).clamp(1, STORM_MAX_BLOCKED).min(threads);
            let blocked = b.storm_threads(&KQUEUE, n, started);
            k.patches = vec![
                b.enabled(&VFS, 41),
                b.enabled(&TCP, 22),
                b.enabled(&ZFS, 9),
                b.patch(&KQUEUE, PatchState::Patching, started - 1, 0),
            ];
            k.transition = Some(SimTransition::new(
                KQUEUE.name,
                Target::Patched,
                started,
                threads,
                threads - n,
                blocked,
                moving_pace(0),
            ));
        }
    }
    k.backfill_signals();
    k
}
