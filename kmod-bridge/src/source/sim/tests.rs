//! Scenario and control tests on the published MIB (manual clock: no
//! sleeping, deterministic).

use std::time::Duration;

use super::*;
use crate::model::find_blocking_function;

/// A read of the MIB, with typed getters.
struct Mib(Vec<(String, MibValue)>);

impl Mib {
    fn get(&self, name: &str) -> Option<&MibValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(MibValue::Int(v)) => *v,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(MibValue::Str(s)) => s,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// Decoded fields of every blocked-thread line.
    fn blocked(&self) -> Vec<Vec<String>> {
        let raw = self.str(mib::TR_BLOCKED);
        if raw.is_empty() {
            return Vec::new();
        }
        raw.split('\n')
            .map(|l| l.split('\t').map(mib::decode_field).collect())
            .collect()
    }

    /// Node components of the patches, in stack order.
    fn patches(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, _) in &self.0 {
            if let Some(rest) = n.strip_prefix("kern.livepatch.patch.")
                && let Some(comp) = rest.strip_suffix(".name")
                && !comp.contains('.')
            {
                out.push(comp.to_string());
            }
        }
        out
    }

    fn patch(&self, comp: &str, leaf: &str) -> i64 {
        self.int(&format!("kern.livepatch.patch.{comp}.{leaf}"))
    }

    /// Sum of the call counters of a patch.
    fn calls(&self, comp: &str) -> i64 {
        let prefix = format!("kern.livepatch.patch.{comp}.");
        self.0
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix) && n.ends_with(".calls"))
            .map(|(_, v)| match v {
                MibValue::Int(i) => *i,
                MibValue::Str(_) => 0,
            })
            .sum()
    }
}

fn tree(s: Scenario) -> SimTree {
    SimTree::new(SimConfig::manual(s)).unwrap()
}

fn read(t: &mut SimTree) -> Mib {
    Mib(t.read_all(mib::ROOT).unwrap())
}

fn errno_name(e: MibWriteError) -> String {
    match e {
        MibWriteError::Errno { name, .. } => name,
        other => format!("{other:?}"),
    }
}

const TXG: &str = "lp_2025_06_zfs_txg";
const TXG_ENABLED: &str = "kern.livepatch.patch.lp_2025_06_zfs_txg.enabled";

#[test]
fn scenario_names_round_trip() {
    let mut names = Vec::new();
    for s in Scenario::ALL {
        assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        assert_eq!(s.to_string(), s.name());
        assert!(!s.description().is_empty() && !s.description().contains('\n'));
        assert!(Scenario::help().contains(s.name()));
        names.push(s.name());
        let err = UnknownScenario("x".into()).to_string();
        assert!(err.contains(s.name()), "{err}");
    }
    names.dedup();
    assert_eq!(names.len(), Scenario::ALL.len());
    assert_eq!(" Stalled".parse::<Scenario>(), Ok(Scenario::Stalled));
    assert_eq!(
        "nope".parse::<Scenario>(),
        Err(UnknownScenario("nope".into()))
    );
    assert_eq!(SimConfig::default().scenario, Scenario::Stalled);
}

#[test]
fn thread_count_is_checked() {
    for threads in [0, MAX_THREADS + 1] {
        let cfg = SimConfig {
            threads,
            ..SimConfig::default()
        };
        let err = open(cfg).err().unwrap().to_string();
        assert!(
            err.contains("--threads") && err.contains("out of range"),
            "{err}"
        );
    }
}

#[test]
fn every_published_node_follows_the_abi_layout() {
    for s in Scenario::ALL {
        let m = read(&mut tree(s));
        assert_eq!(m.str(mib::ABI_VERSION), "1.0");
        assert_eq!(m.int(mib::TIME), MANUAL_EPOCH);
        assert_eq!(m.int(mib::NPATCHES) as usize, m.patches().len());
        for (name, value) in &m.0 {
            if name.ends_with(&format!(".{}", publish::PATCH_FORCED_LEAF)) {
                assert!(matches!(value, MibValue::Int(0 | 1)));
                continue;
            }
            let ty = mib::node_type(name);
            let ok = matches!(
                (ty, value),
                (Some(mib::NodeType::Int), MibValue::Int(_))
                    | (Some(mib::NodeType::Str), MibValue::Str(_))
            );
            assert!(ok, "{s}: {name} = {value:?} has type {ty:?}");
            let comps_ok = name.split('.').all(|c| {
                !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            assert!(comps_ok, "{name}");
        }
        // Stack order is 1..=n.
        for (i, p) in m.patches().iter().enumerate() {
            assert_eq!(m.patch(p, "stack_order"), i as i64 + 1);
        }
    }
}

#[test]
fn healthy_is_idle_and_counters_grow() {
    let mut t = tree(Scenario::Healthy);
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
    assert_eq!(m.str(mib::TR_BLOCKED), "");
    assert_eq!(
        m.patches(),
        ["lp_2025_03_vfs", "lp_2025_04_tcp", "lp_2025_05_zfs"]
    );
    for p in m.patches() {
        assert_eq!(m.patch(&p, "state"), 1);
        assert_eq!(m.patch(&p, "enabled"), 1);
        assert_eq!(m.patch(&p, "signed"), mib::sig::VERIFIED);
        assert!(m.patch(&p, "loaded") < MANUAL_EPOCH - 86_400);
        assert!(
            m.str(&format!("kern.livepatch.patch.{p}.signer"))
                .starts_with("livepatch-signing-2025:")
        );
    }
    assert_eq!(
        m.str("kern.livepatch.patch.lp_2025_04_tcp.name"),
        "lp-2025.04-tcp"
    );
    // The tcp_rack module is not loaded: that object is not patched.
    assert_eq!(
        m.int("kern.livepatch.patch.lp_2025_04_tcp.obj.tcp_rack.patched"),
        0
    );
    assert_eq!(
        m.int("kern.livepatch.patch.lp_2025_04_tcp.obj.kernel.patched"),
        1
    );
    let before = m.calls("lp_2025_04_tcp");
    t.advance(Duration::from_secs(3600));
    let m2 = read(&mut t);
    assert!(m2.calls("lp_2025_04_tcp") > before);
    assert_eq!(m2.int(mib::TR_ACTIVE), 0);
    assert_eq!(m2.int(mib::TIME), MANUAL_EPOCH + 3600);
    // Stats are kernel lifetime counters: present, and stable when idle.
    assert_eq!(m2.int(mib::STATS_COMPLETED), m.int(mib::STATS_COMPLETED));
}

#[test]
fn progressing_completes_by_itself_within_a_minute() {
    let mut t = tree(Scenario::Progressing);
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 1);
    assert_eq!(m.str(mib::TR_PATCH), "lp-2025.06-tcp-sack");
    assert_eq!(m.int(mib::TR_STARTED), MANUAL_EPOCH - 6);
    assert_eq!(m.int(mib::TR_THREADS_TOTAL), DEFAULT_THREADS as i64);
    let completed = m.int(mib::STATS_COMPLETED);
    let mut pending = m.int(mib::TR_THREADS_PENDING);
    assert!(pending > 500, "{pending}");
    assert_eq!(m.int(mib::TR_NBLOCKED), 3);
    let mut done_at = None;
    for s in 1..=90 {
        t.advance(Duration::from_secs(1));
        let m = read(&mut t);
        if m.int(mib::TR_ACTIVE) == 0 {
            done_at = Some(s);
            break;
        }
        let p = m.int(mib::TR_THREADS_PENDING);
        assert!(p <= pending, "pending went up at {s}s: {pending} -> {p}");
        assert!(m.int(mib::TR_NBLOCKED) <= p);
        pending = p;
    }
    let done_at = done_at.expect("progressing never completed");
    assert!((30..=60).contains(&done_at), "completed after {done_at}s");
    let m = read(&mut t);
    assert_eq!(m.patch("lp_2025_06_tcp_sack", "state"), 1);
    assert_eq!(m.int(mib::STATS_COMPLETED), completed + 1);
    // The kernel thread was woken by the automatic signal at 15 s.
    assert!(m.int(mib::STATS_SIGNALS) > 0);
}

#[test]
fn stalled_shape() {
    let mut t = tree(Scenario::Stalled);
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 1);
    assert_eq!(m.str(mib::TR_PATCH), "lp-2025.06-zfs-txg");
    assert_eq!(m.int(mib::TR_TARGET), 1);
    assert_eq!(m.patch(TXG, "state"), 2);
    assert_eq!(m.patch(TXG, "nfuncs"), 7);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), 6);
    assert_eq!(m.int(mib::TR_NBLOCKED), 6);
    let elapsed = MANUAL_EPOCH - m.int(mib::TR_STARTED);
    assert!((150..=240).contains(&elapsed), "{elapsed}");
    // Three D kernel threads have had an automatic signal every 15 s.
    assert_eq!(m.int(mib::TR_SIGNALS), elapsed / 15 * 3);
    assert!(m.int(mib::STATS_SIGNALS) >= m.int(mib::TR_SIGNALS));
    let raw = m.str(mib::TR_BLOCKED);
    assert!(!raw.contains('\u{1b}'), "escapes are encoded in the node");
    let lines = m.blocked();
    assert_eq!(lines.len(), 6);
    let states: String = lines.iter().map(|l| l[2].as_str()).collect();
    assert_eq!(states.matches('D').count(), 5);
    assert_eq!(states.matches('S').count(), 1);
    let hostile: Vec<_> = lines.iter().filter(|l| l[6] == HOSTILE_COMM).collect();
    assert_eq!(hostile.len(), 1);
    assert!(lines.iter().any(|l| l[6] == "nfsd: service"));
    // geom's wait channel really is "-", which the line marks as %2D.
    assert!(raw.contains("\t%2D\t"));
    let patched: Vec<String> =
        m.0.iter()
            .filter(|(n, _)| {
                n.starts_with(&format!("kern.livepatch.patch.{TXG}.obj."))
                    && n.contains(".func.")
                    && n.ends_with(".name")
            })
            .map(|(n, _)| m.str(n).to_string())
            .collect();
    assert_eq!(patched.len(), 7);
    let mut tids = Vec::new();
    for l in &lines {
        assert_eq!(l.len(), mib::BLOCKED_FIELDS);
        let stack: Vec<String> = l[7].split(';').map(mib::decode_field).collect();
        assert!(stack.len() >= 6, "{stack:?}");
        assert!(stack.iter().all(|f| f.contains("+0x")), "{stack:?}");
        // The published blocking function is the first patched frame.
        assert_eq!(
            find_blocking_function(&stack, &patched),
            Some(l[5].as_str()),
            "{l:?}"
        );
        let since: i64 = l[3].parse().unwrap();
        assert!(since > m.int(mib::TR_STARTED) && since < MANUAL_EPOCH);
        tids.push(l[0].parse::<u32>().unwrap());
    }
    assert!(
        tids.windows(2).all(|w| w[0] < w[1]),
        "sorted by tid: {tids:?}"
    );
}

#[test]
fn stalled_stays_stalled_and_signals_kernel_threads() {
    let mut t = tree(Scenario::Stalled);
    let m = read(&mut t);
    let signals = m.int(mib::STATS_SIGNALS);
    t.advance(Duration::from_secs(24 * 3600));
    let m2 = read(&mut t);
    assert_eq!(m2.int(mib::TR_ACTIVE), 1);
    assert_eq!(m2.int(mib::TR_THREADS_PENDING), 6);
    assert_eq!(m2.blocked(), m.blocked());
    // Three D kernel threads get a fake signal every 15 s; none wakes.
    let rounds = (24 * 3600) / 15;
    let sent = m2.int(mib::TR_SIGNALS) - m.int(mib::TR_SIGNALS);
    assert!((3 * rounds - 3..=3 * rounds + 3).contains(&sent), "{sent}");
    assert_eq!(m2.int(mib::STATS_SIGNALS) - signals, sent);
    // The new functions run for the threads that moved.
    assert!(m2.calls(TXG) > m.calls(TXG));
}

#[test]
fn revert_reverses_completes_and_removes_the_patch() {
    let mut t = tree(Scenario::Stalled);
    let m = read(&mut t);
    let (reversed, completed) = (m.int(mib::STATS_REVERSED), m.int(mib::STATS_COMPLETED));
    let started = m.int(mib::TR_STARTED);
    t.write_int(TXG_ENABLED, 0).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 1);
    assert_eq!(m.int(mib::TR_TARGET), 0);
    assert_eq!(m.int(mib::TR_STARTED), started);
    assert_eq!(m.patch(TXG, "state"), 3);
    assert_eq!(m.patch(TXG, "enabled"), 0);
    // Everyone who moved must move back; the blocked ones never moved.
    assert_eq!(m.int(mib::TR_THREADS_PENDING), DEFAULT_THREADS as i64 - 6);
    assert_eq!(m.int(mib::TR_NBLOCKED), 0);
    assert_eq!(m.int(mib::STATS_REVERSED), reversed + 1);
    // Reverting again (1 while unpatching) would reverse once more; 0 is
    // the value it already has.
    assert_eq!(
        errno_name(t.write_int(TXG_ENABLED, 0).unwrap_err()),
        "EINVAL"
    );
    t.advance(Duration::from_secs(1));
    let mid = read(&mut t).int(mib::TR_THREADS_PENDING);
    assert!(mid > 0 && mid < DEFAULT_THREADS as i64 - 6, "{mid}");
    t.advance(Duration::from_secs(9));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0, "completes within seconds");
    assert_eq!(
        m.patches(),
        ["lp_2025_03_vfs", "lp_2025_04_tcp", "lp_2025_05_zfs"]
    );
    assert_eq!(m.int(mib::NPATCHES), 3);
    assert_eq!(m.int(mib::STATS_COMPLETED), completed + 1);
    assert_eq!(t.write_int(TXG_ENABLED, 0), Err(MibWriteError::NotFound));
}

#[test]
fn reversing_twice_brings_the_blockers_back() {
    let mut t = tree(Scenario::Stalled);
    t.write_int(TXG_ENABLED, 0).unwrap();
    t.advance(Duration::from_secs(1));
    t.write_int(TXG_ENABLED, 1).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_TARGET), 1);
    assert_eq!(m.patch(TXG, "state"), 2);
    assert_eq!(m.int(mib::TR_NBLOCKED), 6);
    t.advance(Duration::from_secs(60));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), 6);
    assert_eq!(
        m.int(mib::STATS_REVERSED),
        read(&mut tree(Scenario::Stalled)).int(mib::STATS_REVERSED) + 2
    );
}

#[test]
fn force_completes_and_marks_forced() {
    let mut t = tree(Scenario::Stalled);
    let m = read(&mut t);
    let (forced, completed) = (m.int(mib::STATS_FORCED), m.int(mib::STATS_COMPLETED));
    assert_eq!(m.patch(TXG, "forced"), 0);
    t.write_int(mib::TR_FORCE, 1).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
    assert_eq!(m.str(mib::TR_BLOCKED), "");
    assert_eq!(m.patch(TXG, "state"), 1);
    assert_eq!(m.patch(TXG, "enabled"), 1);
    assert_eq!(m.int(mib::STATS_FORCED), forced + 1);
    assert_eq!(m.int(mib::STATS_COMPLETED), completed);
    // klp marks every patch: none of their modules can be unloaded.
    for p in m.patches() {
        assert_eq!(m.patch(&p, "forced"), 1, "{p}");
    }
    assert_eq!(
        errno_name(t.write_int(mib::TR_FORCE, 1).unwrap_err()),
        "EINVAL"
    );
    t.advance(Duration::from_secs(3600));
    let m = read(&mut t);
    assert_eq!(m.patch(TXG, "forced"), 1);
    assert_eq!(m.patch(TXG, "state"), 1);
    // A later disable of the forced patch still works, and it stays marked
    // until it is gone.
    t.write_int(TXG_ENABLED, 0).unwrap();
    assert_eq!(read(&mut t).patch(TXG, "forced"), 1);
}

#[test]
fn signal_frees_the_s_thread_not_the_d_ones() {
    let mut t = tree(Scenario::Stalled);
    let m = read(&mut t);
    let (signals, stats) = (m.int(mib::TR_SIGNALS), m.int(mib::STATS_SIGNALS));
    t.write_int(mib::TR_SIGNAL, 1).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_SIGNALS), signals + 6);
    assert_eq!(m.int(mib::STATS_SIGNALS), stats + 6);
    assert_eq!(m.int(mib::TR_NBLOCKED), 5);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), 5);
    let lines = m.blocked();
    assert!(lines.iter().all(|l| l[2] == "D"), "{lines:?}");
    assert!(!lines.iter().any(|l| l[6] == "postgres"));
    t.advance(Duration::from_secs(600));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 1);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), 5);
}

#[test]
fn refused_writes() {
    let mut t = tree(Scenario::Stalled);
    // The value it already has.
    assert_eq!(
        errno_name(t.write_int(TXG_ENABLED, 1).unwrap_err()),
        "EINVAL"
    );
    // Only 0 and 1 mean something.
    assert_eq!(
        errno_name(t.write_int(TXG_ENABLED, 2).unwrap_err()),
        "EINVAL"
    );
    // Another patch is in transition.
    let vfs = "kern.livepatch.patch.lp_2025_03_vfs.enabled";
    assert_eq!(errno_name(t.write_int(vfs, 0).unwrap_err()), "EBUSY");
    assert_eq!(errno_name(t.write_int(vfs, 1).unwrap_err()), "EINVAL");
    // Read-only and missing nodes.
    let state = "kern.livepatch.patch.lp_2025_03_vfs.state";
    assert_eq!(errno_name(t.write_int(state, 0).unwrap_err()), "EPERM");
    assert_eq!(
        errno_name(t.write_int(mib::TR_THREADS_PENDING, 0).unwrap_err()),
        "EPERM"
    );
    assert_eq!(
        t.write_int("kern.livepatch.patch.nope.enabled", 0),
        Err(MibWriteError::NotFound)
    );
    assert_eq!(t.write_int("kern.ostype", 0), Err(MibWriteError::NotFound));
    assert_eq!(
        errno_name(t.write_int(mib::TR_FORCE, 0).unwrap_err()),
        "EINVAL"
    );
    // Nothing changed.
    assert_eq!(read(&mut t).0, read(&mut tree(Scenario::Stalled)).0);

    let mut h = tree(Scenario::Healthy);
    assert_eq!(
        errno_name(h.write_int(mib::TR_FORCE, 1).unwrap_err()),
        "EINVAL"
    );
    assert_eq!(
        errno_name(h.write_int(mib::TR_SIGNAL, 1).unwrap_err()),
        "EINVAL"
    );

    let mut s = tree(Scenario::Signatures);
    let hotfix = "kern.livepatch.patch.lp_2025_06_hotfix.enabled";
    let m = read(&mut s);
    assert_eq!(m.patch("lp_2025_06_hotfix", "state"), 0);
    // Re-enabling needs a reload; disabling what is disabled is EINVAL.
    assert_eq!(errno_name(s.write_int(hotfix, 1).unwrap_err()), "EINVAL");
    assert_eq!(errno_name(s.write_int(hotfix, 0).unwrap_err()), "EINVAL");
}

#[test]
fn disabling_an_enabled_patch_unpatches_and_removes_it() {
    let mut t = tree(Scenario::Healthy);
    let tcp = "kern.livepatch.patch.lp_2025_04_tcp.enabled";
    t.write_int(tcp, 0).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 1);
    assert_eq!(m.int(mib::TR_TARGET), 0);
    assert_eq!(m.int(mib::TR_STARTED), MANUAL_EPOCH);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), DEFAULT_THREADS as i64);
    assert_eq!(m.patch("lp_2025_04_tcp", "state"), 3);
    // Another write while it is in transition.
    let vfs = "kern.livepatch.patch.lp_2025_03_vfs.enabled";
    assert_eq!(errno_name(t.write_int(vfs, 0).unwrap_err()), "EBUSY");
    t.advance(Duration::from_secs(10));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
    assert_eq!(m.patches(), ["lp_2025_03_vfs", "lp_2025_05_zfs"]);
    assert_eq!(m.patch("lp_2025_05_zfs", "stack_order"), 2);
}

#[test]
fn replace_removes_the_replaced_patches_on_completion() {
    let mut t = tree(Scenario::Replace);
    let m = read(&mut t);
    let cum = "lp_2025_07_cumulative";
    assert_eq!(m.patches().len(), 4);
    assert_eq!(m.patch(cum, "replace"), 1);
    assert_eq!(m.patch(cum, "state"), 2);
    assert_eq!(m.int(mib::TR_NBLOCKED), 2);
    assert!(m.blocked().iter().any(|l| l[6] == HOSTILE_COMM));
    t.advance(Duration::from_secs(20));
    assert_eq!(
        read(&mut t).patches().len(),
        4,
        "still replacing after 30 s"
    );
    t.advance(Duration::from_secs(60));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
    assert_eq!(m.patches(), [cum]);
    assert_eq!(m.patch(cum, "stack_order"), 1);
    assert_eq!(m.patch(cum, "state"), 1);
    assert_eq!(m.int(mib::NPATCHES), 1);
}

#[test]
fn revert_of_a_replace_keeps_the_old_patches() {
    let mut t = tree(Scenario::Replace);
    t.write_int("kern.livepatch.patch.lp_2025_07_cumulative.enabled", 0)
        .unwrap();
    t.advance(Duration::from_secs(120));
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
    assert_eq!(
        m.patches(),
        ["lp_2025_03_vfs", "lp_2025_04_tcp", "lp_2025_05_zfs"]
    );
}

#[test]
fn signatures_cover_every_code() {
    let m = read(&mut tree(Scenario::Signatures));
    let codes: Vec<i64> = m.patches().iter().map(|p| m.patch(p, "signed")).collect();
    for code in [
        mib::sig::UNSIGNED,
        mib::sig::VERIFIED,
        mib::sig::BAD,
        mib::sig::UNKNOWN,
    ] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    assert_eq!(m.str("kern.livepatch.patch.lp_2025_05_zfs.signer"), "");
    assert_eq!(
        m.int("kern.livepatch.patch.lp_2025_06_hotfix.obj.kernel.patched"),
        0
    );
    assert_eq!(m.int(mib::TR_ACTIVE), 0);
}

#[test]
fn storm_with_a_million_threads() {
    let cfg = SimConfig {
        threads: 1_000_000,
        ..SimConfig::manual(Scenario::Storm)
    };
    let mut t = SimTree::new(cfg).unwrap();
    let m = read(&mut t);
    assert_eq!(m.int(mib::TR_THREADS_TOTAL), 1_000_000);
    assert_eq!(m.int(mib::TR_NBLOCKED), STORM_MAX_BLOCKED as i64);
    assert_eq!(m.int(mib::TR_THREADS_PENDING), STORM_MAX_BLOCKED as i64);
    let lines = m.blocked();
    assert_eq!(lines.len(), mib::BLOCKED_MAX_DEFAULT as usize);
    assert!(lines.iter().any(|l| l[6] == HOSTILE_COMM));
    t.write_int(mib::BLOCKED_MAX, 5).unwrap();
    assert_eq!(read(&mut t).blocked().len(), 5);
    assert_eq!(
        errno_name(t.write_int(mib::BLOCKED_MAX, -1).unwrap_err()),
        "EINVAL"
    );
    t.advance(Duration::from_secs(24 * 3600));
    let m = read(&mut t);
    assert_eq!(
        m.int(mib::TR_THREADS_PENDING),
        STORM_MAX_BLOCKED as i64,
        "stays stalled"
    );
    // A signal frees the event-loop workers (S), not the D sleepers.
    t.write_int(mib::TR_SIGNAL, 1).unwrap();
    let left = read(&mut t).int(mib::TR_NBLOCKED);
    assert!((5_000..=25_000).contains(&left), "{left}");
    // Revert undoes it in seconds.
    t.write_int("kern.livepatch.patch.lp_2025_06_kqueue.enabled", 0)
        .unwrap();
    t.advance(Duration::from_secs(10));
    assert_eq!(read(&mut t).int(mib::TR_ACTIVE), 0);
}

#[test]
fn storm_scales_down() {
    for threads in [1, 5, 10, 99] {
        let cfg = SimConfig {
            threads,
            ..SimConfig::manual(Scenario::Storm)
        };
        let m = read(&mut SimTree::new(cfg).unwrap());
        let n = m.int(mib::TR_NBLOCKED);
        assert!(n >= 1 && n <= threads as i64);
        assert_eq!(m.int(mib::TR_THREADS_PENDING), n);
    }
    // Explicit scenarios never list more blocked threads than exist.
    for s in Scenario::ALL {
        let cfg = SimConfig {
            threads: 2,
            ..SimConfig::manual(s)
        };
        let m = read(&mut SimTree::new(cfg).unwrap());
        assert!(m.int(mib::TR_NBLOCKED) <= 2);
        assert!(m.int(mib::TR_THREADS_PENDING) <= 2);
    }
}

#[test]
fn same_seed_same_mib_other_seed_other_content() {
    for s in Scenario::ALL {
        let mut a = tree(s);
        let mut b = tree(s);
        a.advance(Duration::from_secs(17));
        b.advance(Duration::from_secs(17));
        assert_eq!(read(&mut a).0, read(&mut b).0, "{s}");
    }
    let other = SimConfig {
        seed: 2,
        ..SimConfig::manual(Scenario::Stalled)
    };
    let a = read(&mut tree(Scenario::Stalled));
    let b = read(&mut SimTree::new(other).unwrap());
    assert_ne!(a.str(mib::TR_BLOCKED), b.str(mib::TR_BLOCKED));
    assert_eq!(a.patches(), b.patches());
}

#[test]
fn time_granularity_does_not_change_the_state() {
    for s in [Scenario::Progressing, Scenario::Replace] {
        let mut a = tree(s);
        let mut b = tree(s);
        a.advance(Duration::from_secs(45));
        for _ in 0..90 {
            b.advance(Duration::from_millis(500));
        }
        assert_eq!(read(&mut a).0, read(&mut b).0, "{s}");
    }
}

#[test]
fn real_clock_follows_the_wall_clock() {
    let mut t = SimTree::new(SimConfig::default()).unwrap();
    let m = read(&mut t);
    let now = crate::source::unix_now();
    assert!((m.int(mib::TIME) as f64 - now).abs() <= 2.0);
    assert!((t.now() - now).abs() < 1.0);
    t.advance(Duration::from_secs(100));
    assert!(read(&mut t).int(mib::TIME) as f64 >= now + 99.0);
    assert!(t.writable());
    assert!(t.location().contains("stalled"));
}

#[test]
fn read_all_filters_by_root() {
    let mut t = tree(Scenario::Stalled);
    let all = t.read_all("kern.livepatch").unwrap();
    let tr = t.read_all("kern.livepatch.transition").unwrap();
    assert!(tr.len() < all.len() && !tr.is_empty());
    assert!(
        tr.iter()
            .all(|(n, _)| n.starts_with("kern.livepatch.transition."))
    );
    assert_eq!(t.read_all("kern.livepatch.time").unwrap().len(), 1);
    assert!(t.read_all("kern.livepatch.t").unwrap().is_empty());
    assert!(t.read_all("vm").unwrap().is_empty());
}

// Through the FreeBSD decoder: what the console, the exporter and
// `status --json` see.
mod snapshot {
    use std::time::Duration;

    use super::super::*;
    use crate::control::{ControlAction, ControlError};
    use crate::model::{PatchState, Snapshot, StartSource, Target};
    use crate::source::Source;

    const TXG_NAME: &str = "lp-2025.06-zfs-txg";

    fn src(s: Scenario) -> MibSource<SimTree> {
        open(SimConfig::manual(s)).unwrap()
    }

    fn snap(src: &mut MibSource<SimTree>) -> Snapshot {
        let s = src.snapshot().unwrap();
        assert!(s.limitations.is_empty(), "{:?}", s.limitations);
        s
    }

    #[test]
    fn every_scenario_decodes() {
        for sc in Scenario::ALL {
            let mut src = src(sc);
            assert_eq!(src.kind(), SourceKind::Sim);
            assert!(src.capabilities().revert && src.capabilities().force);
            let s = snap(&mut src);
            assert_eq!(s.source.kind, SourceKind::Sim);
            assert!(s.source.writable);
            assert!(s.source.location.contains(sc.name()));
            assert_eq!(s.kernel.abi_version.as_deref(), Some("1.0"));
            assert!(!s.patches.is_empty());
            let c = s.counters.unwrap();
            assert!(c.transitions_completed > 0);
            for p in &s.patches {
                assert!(p.function_count() > 0);
                assert!(p.loaded_at.is_some());
            }
            let in_transition = matches!(
                sc,
                Scenario::Progressing | Scenario::Stalled | Scenario::Replace | Scenario::Storm
            );
            assert_eq!(s.transition.is_some(), in_transition, "{sc}");
            if in_transition {
                // Every scenario with blocked threads has the hostile one,
                // raw in the model (sanitising is the display's job).
                assert!(
                    s.blocked_threads.iter().any(|b| b.comm == HOSTILE_COMM),
                    "{sc}"
                );
            }
        }
    }

    #[test]
    fn stalled_snapshot() {
        let mut src = src(Scenario::Stalled);
        let s = snap(&mut src);
        let t = s.transition.clone().unwrap();
        assert_eq!(t.patch, TXG_NAME);
        assert_eq!(t.target, Target::Patched);
        assert_eq!(t.started_at_source, StartSource::Kernel);
        assert_eq!((t.threads_total, t.threads_pending), (DEFAULT_THREADS, 6));
        assert!(!t.forced);
        // Elapsed follows the simulated clock (`kern.livepatch.time`).
        let e0 = t.elapsed_seconds.unwrap();
        assert!((150.0..=240.0).contains(&e0), "{e0}");
        let p = s.patch_in_transition().unwrap();
        assert_eq!(p.state, PatchState::Patching);
        assert_eq!(p.signed, Some(true));
        assert!(
            p.signer
                .as_deref()
                .unwrap()
                .starts_with("livepatch-signing-2025:")
        );
        assert_eq!(s.blocked_threads.len(), 6);
        let funcs: Vec<String> = p
            .objects
            .iter()
            .flat_map(|o| o.functions.iter().map(|f| f.name.clone()))
            .collect();
        for b in &s.blocked_threads {
            let f = b.blocking_function.as_deref().unwrap();
            assert!(funcs.iter().any(|x| x == f), "{f}");
            assert!(b.stack.iter().any(|fr| fr.starts_with(&format!("{f}+0x"))));
            assert!(b.blocked_since.unwrap() > t.started_at.unwrap());
            assert!(matches!(b.state.as_str(), "D" | "S"));
        }
        let g_down = s
            .blocked_threads
            .iter()
            .find(|b| b.comm == "geom{g_down}")
            .unwrap();
        assert_eq!(g_down.wchan.as_deref(), Some("-"));
        assert_eq!(
            g_down.blocking_function.as_deref(),
            Some("g_io_schedule_down")
        );
        let pg = s
            .blocked_threads
            .iter()
            .find(|b| b.comm == "postgres")
            .unwrap();
        assert_eq!(
            (pg.state.as_str(), pg.wchan.as_deref()),
            ("S", Some("select"))
        );

        src.tree_mut().advance(Duration::from_secs(3600));
        let s2 = snap(&mut src);
        let t2 = s2.transition.unwrap();
        assert_eq!(t2.threads_pending, 6);
        assert!((t2.elapsed_seconds.unwrap() - e0 - 3600.0).abs() < 1e-6);
        assert!(t2.signals_sent.unwrap() > t.signals_sent.unwrap());
    }

    #[test]
    fn controls_through_plan_and_execute() {
        crate::audit::capture();
        // Signal, then revert: the reversed transition completes and the
        // patch is gone.
        let mut src = src(Scenario::Stalled);
        let plan = src.plan(&ControlAction::signal(TXG_NAME)).unwrap();
        assert_eq!(plan.writes[0].target, mib::TR_SIGNAL);
        src.execute(&plan).unwrap();
        assert_eq!(snap(&mut src).blocked_threads.len(), 5);

        let plan = src.plan(&ControlAction::revert(TXG_NAME)).unwrap();
        assert_eq!(
            plan.writes[0].target,
            "kern.livepatch.patch.lp_2025_06_zfs_txg.enabled"
        );
        let out = src.execute(&plan).unwrap();
        assert!(out.message.contains("reversed"), "{}", out.message);
        let s = snap(&mut src);
        assert_eq!(s.transition.as_ref().unwrap().target, Target::Unpatched);
        assert_eq!(s.patch(TXG_NAME).unwrap().state, PatchState::Unpatching);
        assert!(s.blocked_threads.is_empty());
        src.tree_mut().advance(Duration::from_secs(10));
        let s = snap(&mut src);
        assert!(s.transition.is_none());
        assert!(s.patch(TXG_NAME).is_none());
        assert!(matches!(
            src.plan(&ControlAction::revert(TXG_NAME)),
            Err(ControlError::NoSuchPatch(_))
        ));

        // Force.
        let mut src = super::super::open(SimConfig::manual(Scenario::Stalled)).unwrap();
        let before = snap(&mut src).counters.unwrap();
        let plan = src.plan(&ControlAction::force(TXG_NAME)).unwrap();
        assert!(plan.irreversible);
        src.execute(&plan).unwrap();
        let s = snap(&mut src);
        assert!(s.transition.is_none());
        assert_eq!(s.patch(TXG_NAME).unwrap().state, PatchState::Enabled);
        let after = s.counters.unwrap();
        assert_eq!(after.transitions_forced, before.transitions_forced + 1);
        assert!(matches!(
            src.plan(&ControlAction::force(TXG_NAME)),
            Err(ControlError::NotInTransition(_))
        ));

        // A plan made before the state changed is refused, nothing written.
        let mut src = super::super::open(SimConfig::manual(Scenario::Progressing)).unwrap();
        let plan = src
            .plan(&ControlAction::force("lp-2025.06-tcp-sack"))
            .unwrap();
        src.tree_mut().advance(Duration::from_secs(120));
        assert!(matches!(
            src.execute(&plan),
            Err(ControlError::StateChanged { .. })
        ));
        assert_eq!(snap(&mut src).counters.unwrap().transitions_forced, 0);

        let lines = crate::audit::take_captured();
        assert!(lines.iter().any(|l| l.contains(mib::TR_FORCE)), "{lines:?}");
    }

    #[test]
    fn replace_snapshot_drops_replaced_patches() {
        let mut src = src(Scenario::Replace);
        let s = snap(&mut src);
        let cum = s.patch_in_transition().unwrap();
        assert_eq!(cum.replace, Some(true));
        assert_eq!(cum.stack_order, Some(4));
        src.tree_mut().advance(Duration::from_secs(90));
        let s = snap(&mut src);
        assert!(s.transition.is_none());
        let names: Vec<&str> = s.patches.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["lp-2025.07-cumulative"]);
        assert_eq!(s.patches[0].stack_order, Some(1));
    }

    #[test]
    fn signatures_decode() {
        let s = snap(&mut src(Scenario::Signatures));
        let signed: Vec<Option<bool>> = s.patches.iter().map(|p| p.signed).collect();
        assert_eq!(signed, [Some(true), None, Some(false), Some(false)]);
        let hotfix = s.patch("lp-2025.06-hotfix").unwrap();
        assert_eq!(hotfix.state, PatchState::Disabled);
        assert!(!hotfix.enabled);
        assert!(hotfix.objects.iter().all(|o| o.patched == Some(false)));
    }

    #[test]
    fn a_million_threads_snapshot() {
        let cfg = SimConfig {
            threads: 1_000_000,
            ..SimConfig::manual(Scenario::Storm)
        };
        let mut src = open(cfg).unwrap();
        let s = src.snapshot().unwrap();
        let t = s.transition.unwrap();
        assert_eq!(t.threads_total, 1_000_000);
        assert_eq!(t.threads_pending, STORM_MAX_BLOCKED);
        assert_eq!(s.blocked_threads.len(), mib::BLOCKED_MAX_DEFAULT as usize);
        // The decoder says the list is capped.
        assert!(
            s.limitations.iter().any(|l| l.contains("100000")),
            "{:?}",
            s.limitations
        );
        for sc in [Scenario::Stalled, Scenario::Progressing, Scenario::Replace] {
            let cfg = SimConfig {
                threads: 1_000_000,
                ..SimConfig::manual(sc)
            };
            assert_eq!(
                open(cfg)
                    .unwrap()
                    .snapshot()
                    .unwrap()
                    .transition
                    .unwrap()
                    .threads_total,
                1_000_000
            );
        }
    }

    #[test]
    fn same_seed_same_snapshot() {
        for sc in Scenario::ALL {
            let mut a = open(SimConfig::manual(sc)).unwrap();
            let mut b = open(SimConfig::manual(sc)).unwrap();
            a.tree_mut().advance(Duration::from_secs(5));
            b.tree_mut().advance(Duration::from_secs(5));
            let sa = a.snapshot().unwrap();
            let mut sb = b.snapshot().unwrap();
            // Only the reader's own clock differs.
            sb.taken_at = sa.taken_at;
            assert_eq!(sa, sb, "{sc}");
        }
    }
}
