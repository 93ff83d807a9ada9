//! Hand-made snapshots for the view tests and the frame benchmark: a
//! stalled transition with realistic stacks, a hostile thread name, an
//! idle kernel, and a transition whose blockers cannot be listed.
#![allow(dead_code)]

use kmod_bridge::model::*;
use kmod_bridge::source::Capabilities;
use patchscope_ui::{App, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Time of the last snapshot of a fixture.
pub const T0: f64 = 1_700_000_000.0;

fn func(name: &str) -> PatchFunction {
    PatchFunction {
        name: name.into(),
        sympos: None,
        calls: None,
    }
}

pub fn patches(transition_state: PatchState) -> Vec<Patch> {
    vec![
        Patch {
            name: "lp_base_2024_09".into(),
            enabled: true,
            state: PatchState::Enabled,
            replace: Some(true),
            stack_order: Some(1),
            signed: Some(true),
            signer: Some("FreeBSD livepatch signing key 2024".into()),
            loaded_at: Some(T0 - 86_400.0 * 3.0),
            objects: vec![PatchObject {
                name: "kernel".into(),
                patched: Some(true),
                functions: vec![func("vm_fault"), func("pmap_enter")],
            }],
        },
        Patch {
            name: "lp_nfs_close_race".into(),
            enabled: true,
            state: PatchState::Enabled,
            replace: Some(false),
            stack_order: Some(2),
            signed: Some(false),
            signer: None,
            loaded_at: Some(T0 - 7_200.0),
            objects: vec![PatchObject {
                name: "nfscl".into(),
                patched: Some(true),
                functions: vec![func("nfscl_doclose")],
            }],
        },
        Patch {
            name: "lp_cve_2024_1086".into(),
            enabled: transition_state != PatchState::Unpatching,
            state: transition_state,
            replace: Some(false),
            stack_order: Some(3),
            signed: Some(true),
            signer: Some("FreeBSD livepatch signing key 2024".into()),
            loaded_at: Some(T0 - 150.0),
            objects: vec![
                PatchObject {
                    name: "kernel".into(),
                    patched: Some(false),
                    functions: vec![
                        func("pipe_read"),
                        PatchFunction {
                            name: "kern_select".into(),
                            sympos: Some(2),
                            calls: Some(1234),
                        },
                    ],
                },
                PatchObject {
                    name: "if_em".into(),
                    patched: Some(false),
                    functions: vec![func("em_rxeof")],
                },
            ],
        },
    ]
}

pub fn blocked(
    tid: u32,
    pid: u32,
    comm: &str,
    func: Option<&str>,
    stack: &[&str],
) -> BlockedThread {
    BlockedThread {
        tid,
        pid,
        comm: comm.into(),
        state: "S".into(),
        wchan: Some("piperd".into()),
        blocking_function: func.map(Into::into),
        stack: stack.iter().map(|s| s.to_string()).collect(),
        blocked_since: None,
    }
}

pub fn blockers() -> Vec<BlockedThread> {
    vec![
        blocked(
            100_231,
            4_211,
            "postgres",
            Some("pipe_read"),
            &[
                "sleepq_catch_signals+0x2c",
                "sleepq_wait_sig+0x9",
                "_sleep+0x1d1",
                "pipe_read+0x3c4",
                "dofileread+0x81",
                "sys_read+0xc1",
                "amd64_syscall+0x117",
                "fast_syscall_common+0xf8",
            ],
        ),
        BlockedThread {
            state: "D".into(),
            wchan: Some("select".into()),
            ..blocked(
                100_877,
                1_022,
                "nginx: worker",
                Some("kern_select"),
                &[
                    "sleepq_timedwait_sig+0x12",
                    "_cv_timedwait_sig_sbt+0x1a3",
                    "seltdwait+0xb5",
                    "kern_select+0x8d1",
                    "sys_select+0x5c",
                    "amd64_syscall+0x117",
                ],
            )
        },
        BlockedThread {
            state: "R".into(),
            wchan: None,
            ..blocked(
                100_002,
                0,
                "evil\u{1b}[2J\u{202e}name",
                None,
                &["cpu_idle+0xa8", "sched_idletd+0x4f3", "fork_exit+0x82"],
            )
        },
    ]
}

pub fn base(taken_at: f64) -> Snapshot {
    Snapshot {
        schema_version: JSON_SCHEMA_VERSION,
        source: SourceInfo {
            kind: SourceKind::Sim,
            location: "scenario stalled, seed 1".into(),
            writable: true,
        },
        kernel: KernelInfo {
            os: "simulated".into(),
            release: Some("FreeBSD 14.1-RELEASE".into()),
            abi_version: Some("1.0".into()),
        },
        taken_at,
        patches: patches(PatchState::Enabled),
        transition: None,
        blocked_threads: vec![],
        counters: Some(KernelCounters {
            transitions_completed: 2,
            transitions_reversed: 0,
            transitions_forced: 0,
            signals_sent: 4,
        }),
        limitations: vec![],
    }
}

/// A stalled transition at `T0`: 10,000 threads, 3 pending since T0-120.
pub fn stalled(taken_at: f64, pending: u64, threads: Vec<BlockedThread>) -> Snapshot {
    let mut s = base(taken_at);
    s.patches = patches(PatchState::Patching);
    s.transition = Some(Transition {
        patch: "lp_cve_2024_1086".into(),
        target: Target::Patched,
        started_at: Some(T0 - 150.0),
        started_at_source: StartSource::Kernel,
        elapsed_seconds: Some(taken_at - (T0 - 150.0)),
        threads_total: 10_000,
        threads_pending: pending,
        forced: false,
        signals_sent: Some(2),
    });
    s.blocked_threads = threads;
    s
}

pub fn caps() -> Capabilities {
    Capabilities {
        revert: true,
        force: true,
        signal: true,
    }
}

pub fn demo_opts() -> UiOptions {
    UiOptions {
        banner: Some("SIMULATED KERNEL — scenario stalled, seed 1".into()),
        ..UiOptions::default()
    }
}

/// An app that watched the stalled transition from its start.
pub fn stalled_app(opts: UiOptions) -> App {
    let mut app = App::new(opts, caps());
    app.on_snapshot(Ok(base(T0 - 160.0)), T0 - 160.0);
    let history: [(f64, u64); 4] = [(-150.0, 9_000), (-140.0, 2_400), (-130.0, 310), (-120.0, 3)];
    for (dt, pending) in history {
        app.on_snapshot(Ok(stalled(T0 + dt, pending, blockers())), T0 + dt);
    }
    let mut t = -110.0;
    while t <= 0.0 {
        app.on_snapshot(Ok(stalled(T0 + t, 3, blockers())), T0 + t);
        t += 10.0;
    }
    app
}

/// An app on an idle kernel.
pub fn idle_app() -> App {
    let mut app = App::new(UiOptions::default(), caps());
    app.on_snapshot(Ok(base(T0)), T0);
    app
}

/// A transition whose blocked threads cannot be listed (Linux without
/// root, or idle tasks without `/proc` entries).
pub fn unlisted_app() -> App {
    let mut app = App::new(UiOptions::default(), caps());
    let mut s = stalled(T0, 2, vec![]);
    s.source.kind = SourceKind::Linux;
    s.source.location = "/sys, /proc".into();
    s.limitations = vec![
        "reading /proc/<pid>/task/<tid>/patch_state needs root: only your own threads are listed"
            .into(),
        "idle tasks (swapper/N) take part in the transition but have no /proc entry".into(),
    ];
    app.on_snapshot(Ok(s), T0);
    app
}

/// `n` blocked threads, for scale tests and the benchmark.
pub fn many(n: u32) -> Snapshot {
    let threads = (0..n)
        .map(|i| BlockedThread {
            blocked_since: Some(T0 - f64::from(i % 600)),
            ..blocked(
                100_000 + i,
                1_000 + i / 8,
                "worker",
                Some(if i % 3 == 0 {
                    "pipe_read"
                } else {
                    "kern_select"
                }),
                &[
                    "sleepq_wait+0x2c",
                    "_sleep+0x1d1",
                    "pipe_read+0x3c4",
                    "sys_read+0xc1",
                ],
            )
        })
        .collect();
    stalled(T0, u64::from(n), threads)
}

/// Render `app` on a `w`x`h` test terminal.
pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| patchscope_ui::draw(f, app)).unwrap();
    term
}
