//! Decoding the `kern.livepatch` MIB (ABI 1.x, `doc/MIB.md`) into the model.
//!
//! Input is the flat list of leaves a [`super::MibTree`] returns, in MIB
//! order. Decoding takes one pass to sort the leaves into top-level values
//! and per-patch builders (a map from node component to index, so large
//! trees stay linear), checks the ABI version before interpreting anything
//! else, then builds the model.
//!
//! Rules, in short:
//!
//! * Numbers may arrive as [`MibValue::Str`] (dumps carry only text) and are
//!   parsed; a value that is not a number is a [`SourceError::Parse`] naming
//!   the node.
//! * Optional nodes (`stats.*`, `signer`, `calls`, `time`, `blocked_max`, …)
//!   missing give `None`. A missing required node is a [`SourceError::Mib`].
//! * A patch subtree without its required leaves (a patch being loaded or
//!   unloaded while the tree was read) is left out with a limitation;
//!   [`decode_strict`] (used to validate dumps) makes it an error instead.
//! * An unreadable blocked-thread line is skipped and named in
//!   [`Decoded::limitations`]: one bad line never hides the others.
//!
//! The blocked-thread list can hold 100,000 lines read every second (the
//! simulator), so its decoder allocates only the model's own strings.

use std::collections::HashMap;

use super::MibValue;
use super::mib::{self, patch_leaf as leaf};
use crate::error::SourceError;
use crate::model::{
    BlockedThread, KernelCounters, KernelInfo, Patch, PatchFunction, PatchObject, PatchState,
    StartSource, Target, Transition,
};

/// The model parts decoded from a MIB.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Kernel and ABI.
    pub kernel: KernelInfo,
    /// Patches.
    pub patches: Vec<Patch>,
    /// Transition.
    pub transition: Option<Transition>,
    /// Blocked threads.
    pub blocked_threads: Vec<BlockedThread>,
    /// Counters.
    pub counters: Option<KernelCounters>,
    /// What could not be decoded or seen.
    pub limitations: Vec<String>,
    /// Patch name -> node component.
    pub components: HashMap<String, String>,
    /// The kernel's clock when the MIB was read (`kern.livepatch.time`),
    /// Unix seconds, where published. A dump's capture time.
    pub clock: Option<f64>,
}

/// Decode every leaf under `kern.livepatch`. `taken_at` is the reader's
/// clock, used for elapsed times when the MIB has no `time` node.
pub fn decode(nodes: &[(String, MibValue)], taken_at: f64) -> Result<Decoded, SourceError> {
    decode_with(nodes, taken_at, false)
}

/// Like [`decode`], but an incomplete patch subtree or a patch count that
/// disagrees with `npatches` is an error rather than a limitation. A live
/// kernel can show those for a moment; a captured dump showing them is
/// truncated.
pub fn decode_strict(nodes: &[(String, MibValue)], taken_at: f64) -> Result<Decoded, SourceError> {
    decode_with(nodes, taken_at, true)
}

/// Most line numbers a limitation about unreadable blocked lines names.
const MAX_NAMED_LINES: usize = 5;

/// Top-level leaves, as references into the input.
#[derive(Default)]
struct TopLevel<'a> {
    abi_version: Option<&'a MibValue>,
    abi_major: Option<&'a MibValue>,
    abi_minor: Option<&'a MibValue>,
    kernel: Option<&'a MibValue>,
    time: Option<&'a MibValue>,
    npatches: Option<&'a MibValue>,
    blocked_max: Option<&'a MibValue>,
    stats: [Option<&'a MibValue>; 4],
    tr_active: Option<&'a MibValue>,
    tr_patch: Option<&'a MibValue>,
    tr_target: Option<&'a MibValue>,
    tr_started: Option<&'a MibValue>,
    tr_total: Option<&'a MibValue>,
    tr_pending: Option<&'a MibValue>,
    tr_forced: Option<&'a MibValue>,
    tr_signals: Option<&'a MibValue>,
    tr_nblocked: Option<&'a MibValue>,
    tr_blocked: Option<&'a MibValue>,
}

/// One patch subtree being collected.
struct PatchNodes<'a> {
    comp: &'a str,
    leaves: HashMap<&'a str, (&'a str, &'a MibValue)>,
    objects: Vec<ObjNodes<'a>>,
    obj_index: HashMap<&'a str, usize>,
}

struct ObjNodes<'a> {
    comp: &'a str,
    name: Option<(&'a str, &'a MibValue)>,
    patched: Option<(&'a str, &'a MibValue)>,
    funcs: Vec<FuncNodes<'a>>,
    func_index: HashMap<&'a str, usize>,
}

#[derive(Default)]
struct FuncNodes<'a> {
    comp: &'a str,
    name: Option<(&'a str, &'a MibValue)>,
    sympos: Option<(&'a str, &'a MibValue)>,
    calls: Option<(&'a str, &'a MibValue)>,
}

fn decode_with(
    nodes: &[(String, MibValue)],
    taken_at: f64,
    strict: bool,
) -> Result<Decoded, SourceError> {
    if nodes.is_empty() {
        return Err(SourceError::NotFound {
            looked_for: "sysctl kern.livepatch (is the livepatch module loaded?)".into(),
        });
    }

    // Pass 1: sort leaves into top-level values and patch subtrees.
    let mut top = TopLevel::default();
    let mut patches: Vec<PatchNodes<'_>> = Vec::new();
    let mut patch_index: HashMap<&str, usize> = HashMap::new();
    for (name, value) in nodes {
        let name = name.as_str();
        match name {
            mib::ABI_VERSION => top.abi_version = Some(value),
            mib::ABI_MAJOR_NODE => top.abi_major = Some(value),
            mib::ABI_MINOR_NODE => top.abi_minor = Some(value),
            mib::KERNEL => top.kernel = Some(value),
            mib::TIME => top.time = Some(value),
            mib::NPATCHES => top.npatches = Some(value),
            mib::BLOCKED_MAX => top.blocked_max = Some(value),
            mib::STATS_COMPLETED => top.stats[0] = Some(value),
            mib::STATS_REVERSED => top.stats[1] = Some(value),
            mib::STATS_FORCED => top.stats[2] = Some(value),
            mib::STATS_SIGNALS => top.stats[3] = Some(value),
            mib::TR_ACTIVE => top.tr_active = Some(value),
            mib::TR_PATCH => top.tr_patch = Some(value),
            mib::TR_TARGET => top.tr_target = Some(value),
            mib::TR_STARTED => top.tr_started = Some(value),
            mib::TR_THREADS_TOTAL => top.tr_total = Some(value),
            mib::TR_THREADS_PENDING => top.tr_pending = Some(value),
            mib::TR_FORCED => top.tr_forced = Some(value),
            mib::TR_SIGNALS => top.tr_signals = Some(value),
            mib::TR_NBLOCKED => top.tr_nblocked = Some(value),
            mib::TR_BLOCKED => top.tr_blocked = Some(value),
            _ => {
                if let Some(rest) = name
                    .strip_prefix(mib::PATCH_PREFIX)
                    .and_then(|r| r.strip_prefix('.'))
                {
                    collect_patch_leaf(&mut patches, &mut patch_index, name, rest, value);
                }
                // Anything else is a node of a newer minor version: ignored.
            }
        }
    }

    // The ABI decides how everything else reads: check it first.
    let abi_version = check_abi(&top)?;

    let mut out = Decoded {
        kernel: KernelInfo {
            os: "FreeBSD".to_string(),
            release: opt_str(top.kernel).filter(|s| !s.is_empty()),
            abi_version: Some(abi_version),
        },
        ..Decoded::default()
    };
    out.clock = opt_i64(top.time, mib::TIME)?
        .filter(|&t| t > 0)
        .map(|t| t as f64);
    let now = out.clock.unwrap_or(taken_at);

    out.counters = decode_counters(&top)?;

    // Transition and blocked threads (before the patches, so a dump cut
    // short reports the first node it misses).
    let active = req_i64(top.tr_active, mib::TR_ACTIVE)?;
    if active != 0 {
        let (transition, blocked, limitations) = decode_transition(&top, now)?;
        out.transition = Some(transition);
        out.blocked_threads = blocked;
        out.limitations.extend(limitations);
    }

    // Patches.
    let mut decoded_patches: Vec<(Patch, &str)> = Vec::with_capacity(patches.len());
    for p in &patches {
        match decode_patch(p)? {
            Ok(patch) => {
                if let Some((node, v)) = p.leaves.get(leaf::NFUNCS).copied() {
                    let n = as_u64(v, node)?;
                    let read = patch.function_count() as u64;
                    if n != read {
                        let msg = format!("says {n} functions but {read} were read");
                        if strict {
                            return Err(SourceError::Mib {
                                node: node.to_string(),
                                message: msg,
                            });
                        }
                        out.limitations.push(format!(
                            "{node} {msg}: the function list of '{}' is incomplete",
                            patch.name
                        ));
                    }
                }
                decoded_patches.push((patch, p.comp));
            }
            Err(missing) if strict => {
                return Err(SourceError::Mib {
                    node: missing,
                    message: "missing: the patch subtree is incomplete".to_string(),
                });
            }
            Err(missing) => out.limitations.push(format!(
                "patch subtree {}.{} was incomplete ({missing} missing; the patch may be loading or unloading) and is left out",
                mib::PATCH_PREFIX,
                p.comp
            )),
        }
    }
    if let Some(n) = opt_u64(top.npatches, mib::NPATCHES)?
        && n != patches.len() as u64
    {
        let msg = format!(
            "says {n} patches but {} patch subtrees were read",
            patches.len()
        );
        if strict {
            return Err(SourceError::Mib {
                node: mib::NPATCHES.to_string(),
                message: msg,
            });
        }
        out.limitations.push(format!(
            "{} {msg} (a patch was loaded or removed while reading)",
            mib::NPATCHES
        ));
    }
    // Stable: equal or unknown orders keep MIB order.
    decoded_patches.sort_by_key(|(p, _)| p.stack_order.unwrap_or(u32::MAX));
    out.components = decoded_patches
        .iter()
        .map(|(p, comp)| (p.name.clone(), (*comp).to_string()))
        .collect();
    out.patches = decoded_patches.into_iter().map(|(p, _)| p).collect();

    if let Some(t) = &out.transition
        && !out.patches.iter().any(|p| p.name == t.patch)
    {
        out.limitations.push(format!(
            "the transition names patch '{}', which has no subtree under {}",
            t.patch,
            mib::PATCH_PREFIX
        ));
    }
    Ok(out)
}

/// File one `kern.livepatch.patch.<rest>` leaf under its patch, object and
/// function. Paths the layout does not have are ignored (newer minors).
fn collect_patch_leaf<'a>(
    patches: &mut Vec<PatchNodes<'a>>,
    index: &mut HashMap<&'a str, usize>,
    full: &'a str,
    rest: &'a str,
    value: &'a MibValue,
) {
    let mut parts = rest.split('.');
    let (Some(comp), Some(first)) = (parts.next(), parts.next()) else {
        return;
    };
    let pi = *index.entry(comp).or_insert_with(|| {
        patches.push(PatchNodes {
            comp,
            leaves: HashMap::new(),
            objects: Vec::new(),
            obj_index: HashMap::new(),
        });
        patches.len() - 1
    });
    let Some(p) = patches.get_mut(pi) else {
        return;
    };
    if first != leaf::OBJ {
        if parts.next().is_none() {
            p.leaves.insert(first, (full, value));
        }
        return;
    }
    let (Some(ocomp), Some(oleaf)) = (parts.next(), parts.next()) else {
        return;
    };
    let oi = *p.obj_index.entry(ocomp).or_insert_with(|| {
        p.objects.push(ObjNodes {
            comp: ocomp,
            name: None,
            patched: None,
            funcs: Vec::new(),
            func_index: HashMap::new(),
        });
        p.objects.len() - 1
    });
    let Some(o) = p.objects.get_mut(oi) else {
        return;
    };
    if oleaf != leaf::FUNC {
        match (oleaf, parts.next()) {
            (leaf::OBJ_NAME, None) => o.name = Some((full, value)),
            (leaf::OBJ_PATCHED, None) => o.patched = Some((full, value)),
            _ => {}
        }
        return;
    }
    let (Some(fcomp), Some(fleaf), None) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let fi = *o.func_index.entry(fcomp).or_insert_with(|| {
        o.funcs.push(FuncNodes {
            comp: fcomp,
            ..FuncNodes::default()
        });
        o.funcs.len() - 1
    });
    let Some(f) = o.funcs.get_mut(fi) else {
        return;
    };
    match fleaf {
        leaf::OBJ_NAME => f.name = Some((full, value)),
        leaf::FUNC_SYMPOS => f.sympos = Some((full, value)),
        leaf::FUNC_CALLS => f.calls = Some((full, value)),
        _ => {}
    }
}

/// The ABI version as `"MAJOR.MINOR"`, or why it cannot be read.
fn check_abi(top: &TopLevel<'_>) -> Result<String, SourceError> {
    let major_node = opt_u64(top.abi_major, mib::ABI_MAJOR_NODE)?;
    let minor_node = opt_u64(top.abi_minor, mib::ABI_MINOR_NODE)?;
    let (major, minor, shown) = match top.abi_version {
        Some(v) => {
            let text = value_text(v);
            let bad = || {
                SourceError::parse(
                    mib::ABI_VERSION,
                    format!(
                        "'{}' is not a version of the form MAJOR.MINOR",
                        short(&text)
                    ),
                )
            };
            let (ma, mi) = text.trim().split_once('.').ok_or_else(bad)?;
            let ma: u64 = ma.parse().map_err(|_| bad())?;
            let mi: u64 = mi.parse().map_err(|_| bad())?;
            if let Some(m) = major_node
                && m != ma
            {
                return Err(SourceError::parse(
                    mib::ABI_VERSION,
                    format!(
                        "says {}, but {} says {m}: the module publishes an inconsistent version",
                        text.trim(),
                        mib::ABI_MAJOR_NODE
                    ),
                ));
            }
            (ma, mi, text.trim().to_string())
        }
        None => match major_node {
            Some(ma) => {
                let mi = minor_node.unwrap_or(0);
                (ma, mi, format!("{ma}.{mi}"))
            }
            None => {
                return Err(SourceError::Mib {
                    node: mib::ABI_VERSION.to_string(),
                    message: format!(
                        "missing (and no {}): this is not a livepatch MIB patchscope knows, or the module predates ABI 1.0",
                        mib::ABI_MAJOR_NODE
                    ),
                });
            }
        },
    };
    let _ = minor; // Newer minors only add nodes: any minor is accepted.
    if major != u64::from(mib::ABI_MAJOR) {
        return Err(SourceError::UnsupportedAbi {
            found: shown,
            supported: mib::ABI_MAJOR,
        });
    }
    Ok(shown)
}

fn decode_counters(top: &TopLevel<'_>) -> Result<Option<KernelCounters>, SourceError> {
    if top.stats.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [c, r, f, s] = top.stats;
    Ok(Some(KernelCounters {
        transitions_completed: opt_u64(c, mib::STATS_COMPLETED)?.unwrap_or(0),
        transitions_reversed: opt_u64(r, mib::STATS_REVERSED)?.unwrap_or(0),
        transitions_forced: opt_u64(f, mib::STATS_FORCED)?.unwrap_or(0),
        signals_sent: opt_u64(s, mib::STATS_SIGNALS)?.unwrap_or(0),
    }))
}

/// `Ok(Err(node))` names a missing required leaf.
fn decode_patch(p: &PatchNodes<'_>) -> Result<Result<Patch, String>, SourceError> {
    let get = |l: &str| p.leaves.get(l).copied();
    let missing = |l: &str| format!("{}.{}.{l}", mib::PATCH_PREFIX, p.comp);
    let Some((_, name)) = get(leaf::NAME) else {
        return Ok(Err(missing(leaf::NAME)));
    };
    let Some((en_node, enabled)) = get(leaf::ENABLED) else {
        return Ok(Err(missing(leaf::ENABLED)));
    };
    let Some((st_node, state)) = get(leaf::STATE) else {
        return Ok(Err(missing(leaf::STATE)));
    };
    let code = as_i64(state, st_node)?;
    let state = PatchState::from_code(code).ok_or_else(|| {
        SourceError::parse(
            st_node,
            format!("unknown state code {code} (ABI 1.x knows 0 disabled, 1 enabled, 2 patching, 3 unpatching)"),
        )
    })?;
    let replace = match get(leaf::REPLACE) {
        Some((n, v)) => Some(as_i64(v, n)? != 0),
        None => None,
    };
    let stack_order = match get(leaf::STACK_ORDER) {
        Some((n, v)) => Some(as_u32(v, n)?).filter(|&o| o > 0),
        None => None,
    };
    let signed = match get(leaf::SIGNED) {
        Some((n, v)) => match as_i64(v, n)? {
            mib::sig::UNSIGNED | mib::sig::BAD => Some(false),
            mib::sig::VERIFIED => Some(true),
            // UNKNOWN, or a code of a newer minor.
            _ => None,
        },
        None => None,
    };
    let signer = get(leaf::SIGNER)
        .map(|(_, v)| value_text(v).into_owned())
        .filter(|s| !s.is_empty());
    let loaded_at = match get(leaf::LOADED) {
        Some((n, v)) => Some(as_i64(v, n)?).filter(|&t| t > 0).map(|t| t as f64),
        None => None,
    };
    let mut objects = Vec::with_capacity(p.objects.len());
    for o in &p.objects {
        let mut functions = Vec::with_capacity(o.funcs.len());
        for f in &o.funcs {
            functions.push(PatchFunction {
                name: f
                    .name
                    .map(|(_, v)| value_text(v).into_owned())
                    .unwrap_or_else(|| f.comp.to_string()),
                sympos: match f.sympos {
                    Some((n, v)) => Some(as_u32(v, n)?),
                    None => None,
                },
                calls: match f.calls {
                    Some((n, v)) => Some(as_u64(v, n)?),
                    None => None,
                },
            });
        }
        objects.push(PatchObject {
            name: o
                .name
                .map(|(_, v)| value_text(v).into_owned())
                .unwrap_or_else(|| o.comp.to_string()),
            patched: match o.patched {
                Some((n, v)) => Some(as_i64(v, n)? != 0),
                None => None,
            },
            functions,
        });
    }
    Ok(Ok(Patch {
        name: value_text(name).into_owned(),
        enabled: as_i64(enabled, en_node)? != 0,
        state,
        replace,
        stack_order,
        signed,
        signer,
        loaded_at,
        objects,
    }))
}

type TransitionParts = (Transition, Vec<BlockedThread>, Vec<String>);

fn decode_transition(top: &TopLevel<'_>, now: f64) -> Result<TransitionParts, SourceError> {
    let patch = req(top.tr_patch, mib::TR_PATCH).map(|v| value_text(v).into_owned())?;
    if patch.is_empty() {
        return Err(SourceError::parse(
            mib::TR_PATCH,
            format!("empty while {} is 1", mib::TR_ACTIVE),
        ));
    }
    let target = match req_i64(top.tr_target, mib::TR_TARGET)? {
        1 => Target::Patched,
        0 => Target::Unpatched,
        other => {
            return Err(SourceError::parse(
                mib::TR_TARGET,
                format!("unknown target {other} (1 patched, 0 unpatched)"),
            ));
        }
    };
    let started_at = opt_i64(top.tr_started, mib::TR_STARTED)?
        .filter(|&t| t > 0)
        .map(|t| t as f64);
    let transition = Transition {
        patch,
        target,
        started_at,
        started_at_source: StartSource::Kernel,
        // A clock step backwards must not show a negative age.
        elapsed_seconds: started_at.map(|s| (now - s).max(0.0)),
        threads_total: req_u64(top.tr_total, mib::TR_THREADS_TOTAL)?,
        threads_pending: req_u64(top.tr_pending, mib::TR_THREADS_PENDING)?,
        forced: opt_i64(top.tr_forced, mib::TR_FORCED)?.is_some_and(|f| f != 0),
        signals_sent: opt_u64(top.tr_signals, mib::TR_SIGNALS)?,
    };

    let mut limitations = Vec::new();
    // A module that counts wrong is shown as it is, and said: the
    // progress of such a transition reads 0.
    if transition.threads_pending > transition.threads_total {
        limitations.push(format!(
            "{} ({}) exceeds {} ({}): the module's thread counts disagree, progress is unknown",
            mib::TR_THREADS_PENDING,
            transition.threads_pending,
            mib::TR_THREADS_TOTAL,
            transition.threads_total
        ));
    }
    let nblocked = opt_u64(top.tr_nblocked, mib::TR_NBLOCKED)?;
    let blocked = match top.tr_blocked {
        Some(v) => {
            let text = value_text(v);
            let (threads, bad) = decode_blocked(&text, nblocked);
            if let Some(msg) = bad.message() {
                limitations.push(msg);
            }
            threads
        }
        None => {
            if nblocked.is_some_and(|n| n > 0) || nblocked.is_none() {
                limitations.push(format!(
                    "{} could not be read (not published, or reading it needs root): the blocked threads are not shown",
                    mib::TR_BLOCKED
                ));
            }
            Vec::new()
        }
    };
    if top.tr_blocked.is_some()
        && let Some(n) = nblocked
    {
        let listed = blocked.len() as u64;
        if n > listed {
            let cap = match opt_u64(top.blocked_max, mib::BLOCKED_MAX)? {
                Some(m) => format!(
                    " ({} is {m}; raise it with `sysctl {}=N` to see more)",
                    mib::BLOCKED_MAX,
                    mib::BLOCKED_MAX
                ),
                None => String::new(),
            };
            limitations.push(format!("{listed} of {n} blocked threads are listed{cap}"));
        }
    }
    Ok((transition, blocked, limitations))
}

/// Unreadable blocked-thread lines: how many and the first few.
#[derive(Default)]
struct BadLines {
    count: usize,
    first: Vec<(usize, &'static str)>,
}

impl BadLines {
    fn add(&mut self, line: usize, why: &'static str) {
        self.count += 1;
        if self.first.len() < MAX_NAMED_LINES {
            self.first.push((line, why));
        }
    }

    fn message(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let named: Vec<String> = self
            .first
            .iter()
            .map(|(l, why)| format!("line {l} ({why})"))
            .collect();
        let more = self.count - self.first.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        Some(format!(
            "{} unreadable line(s) of {} left out: {}{more}",
            self.count,
            mib::TR_BLOCKED,
            named.join(", ")
        ))
    }
}

/// Decode the blocked-thread lines ([`mib::BLOCKED_LINE_FORMAT`]). Lines are
/// numbered from 1 within the node's value.
fn decode_blocked(text: &str, nblocked: Option<u64>) -> (Vec<BlockedThread>, BadLines) {
    // Capacity from the text itself: nblocked is the kernel's word and may
    // exceed what is listed.
    let lines_hint = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let cap = nblocked.map_or(lines_hint, |n| lines_hint.min(n as usize));
    let mut threads = Vec::with_capacity(cap);
    let mut bad = BadLines::default();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        match decode_blocked_line(line) {
            Ok(t) => threads.push(t),
            Err(why) => bad.add(i + 1, why),
        }
    }
    (threads, bad)
}

fn decode_blocked_line(line: &str) -> Result<BlockedThread, &'static str> {
    let mut f = line.split('\t');
    let tid = f.next().ok_or("no tid")?;
    let pid = f.next().ok_or("no pid")?;
    let state = f.next().ok_or("no state")?;
    let since = f.next().ok_or("no blocked_since")?;
    let wchan = f.next().ok_or("no wchan")?;
    let func = f.next().ok_or("no blocking_function")?;
    let comm = f.next().ok_or("no comm")?;
    // A missing stack (trailing whitespace trimmed away) reads as empty;
    // fields after the stack belong to newer minors and are ignored.
    let stack = f.next().unwrap_or(mib::BLOCKED_EMPTY);
    let tid: u32 = tid.parse().map_err(|_| "tid is not a number")?;
    let pid: u32 = pid.parse().map_err(|_| "pid is not a number")?;
    let blocked_since = match since.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Some(s),
        Ok(_) => None,
        Err(_) => return Err("blocked_since is not a number"),
    };
    let state = mib::decode_field(state);
    Ok(BlockedThread {
        tid,
        pid,
        comm: mib::decode_field(comm),
        state: if state.is_empty() {
            "?".to_string()
        } else {
            state
        },
        wchan: optional_field(wchan),
        blocking_function: optional_field(func),
        stack: if stack.is_empty() || stack == mib::BLOCKED_EMPTY {
            Vec::new()
        } else {
            stack
                .split(';')
                .filter(|s| !s.is_empty())
                .map(mib::decode_field)
                .collect()
        },
        blocked_since,
    })
}

fn optional_field(raw: &str) -> Option<String> {
    if raw.is_empty() || raw == mib::BLOCKED_EMPTY {
        None
    } else {
        Some(mib::decode_field(raw))
    }
}

// ---- value helpers: every error names the node ----

fn value_text(v: &MibValue) -> std::borrow::Cow<'_, str> {
    match v {
        MibValue::Str(s) => std::borrow::Cow::Borrowed(s.as_str()),
        // A string node whose text looks like a number can come back as Int
        // from a dump reader guessing types.
        MibValue::Int(i) => std::borrow::Cow::Owned(i.to_string()),
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    crate::sanitize::for_terminal(&out).into_owned()
}

fn as_i64(v: &MibValue, node: &str) -> Result<i64, SourceError> {
    match v {
        MibValue::Int(i) => Ok(*i),
        MibValue::Str(s) => s.trim().parse().map_err(|_| not_a_number(node, s)),
    }
}

fn as_u64(v: &MibValue, node: &str) -> Result<u64, SourceError> {
    match v {
        MibValue::Int(i) => u64::try_from(*i)
            .map_err(|_| SourceError::parse(node, format!("{i} is negative, expected a count"))),
        // u64 counters above i64::MAX arrive as text.
        MibValue::Str(s) => s.trim().parse().map_err(|_| not_a_number(node, s)),
    }
}

fn as_u32(v: &MibValue, node: &str) -> Result<u32, SourceError> {
    let n = as_i64(v, node)?;
    u32::try_from(n)
        .map_err(|_| SourceError::parse(node, format!("{n} is out of range (0 to 4294967295)")))
}

fn not_a_number(node: &str, s: &str) -> SourceError {
    SourceError::parse(node, format!("'{}' is not a number", short(s)))
}

fn req<'a>(v: Option<&'a MibValue>, node: &str) -> Result<&'a MibValue, SourceError> {
    v.ok_or_else(|| SourceError::Mib {
        node: node.to_string(),
        message: "missing: every ABI 1.x module publishes it".to_string(),
    })
}

fn req_i64(v: Option<&MibValue>, node: &str) -> Result<i64, SourceError> {
    as_i64(req(v, node)?, node)
}

fn req_u64(v: Option<&MibValue>, node: &str) -> Result<u64, SourceError> {
    as_u64(req(v, node)?, node)
}

fn opt_i64(v: Option<&MibValue>, node: &str) -> Result<Option<i64>, SourceError> {
    v.map(|v| as_i64(v, node)).transpose()
}

fn opt_u64(v: Option<&MibValue>, node: &str) -> Result<Option<u64>, SourceError> {
    v.map(|v| as_u64(v, node)).transpose()
}

fn opt_str(v: Option<&MibValue>) -> Option<String> {
    v.map(|v| value_text(v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::super::fake::{self, NOW, STARTED};
    use super::*;

    fn i(v: i64) -> MibValue {
        MibValue::Int(v)
    }

    fn s(v: &str) -> MibValue {
        MibValue::Str(v.to_string())
    }

    fn err(nodes: &[(String, MibValue)]) -> String {
        decode(nodes, 0.0).unwrap_err().to_string()
    }

    #[test]
    fn healthy_mib_decodes_every_field() {
        let d = decode(&fake::healthy(), 0.0).unwrap();
        assert_eq!(d.kernel.os, "FreeBSD");
        assert_eq!(d.kernel.release.as_deref(), Some("14.1-RELEASE-p5 GENERIC"));
        assert_eq!(d.kernel.abi_version.as_deref(), Some("1.0"));
        assert_eq!(d.clock, Some(NOW as f64));
        assert!(d.transition.is_none());
        assert!(d.blocked_threads.is_empty());
        assert!(d.limitations.is_empty(), "{:?}", d.limitations);
        let names: Vec<&str> = d.patches.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["lp_fix1", "lp-fix.2"]);
        let p = &d.patches[1];
        assert!(p.enabled);
        assert_eq!(p.state, PatchState::Enabled);
        assert_eq!(p.replace, Some(false));
        assert_eq!(p.stack_order, Some(2));
        assert_eq!(p.signed, Some(true));
        assert_eq!(p.signer.as_deref(), Some("livepatch-2024"));
        assert_eq!(p.loaded_at, Some((STARTED - 7200) as f64));
        assert_eq!(p.objects.len(), 1);
        assert_eq!(p.objects[0].name, "kernel");
        assert_eq!(p.objects[0].patched, Some(true));
        let funcs: Vec<&str> = p.objects[0]
            .functions
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(funcs, ["sys_read", "kern_select"]);
        assert_eq!(p.objects[0].functions[0].sympos, Some(0));
        assert_eq!(p.objects[0].functions[0].calls, None);
        assert_eq!(
            d.components.get("lp-fix.2").map(String::as_str),
            Some("lp_fix_2")
        );
        assert_eq!(
            d.counters,
            Some(KernelCounters {
                transitions_completed: 2,
                ..KernelCounters::default()
            })
        );
    }

    #[test]
    fn patches_follow_stack_order_not_mib_order() {
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1.stack_order", i(3));
        let d = decode(&nodes, 0.0).unwrap();
        let names: Vec<&str> = d.patches.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["lp-fix.2", "lp_fix1"]);
    }

    #[test]
    fn stalled_mib_decodes_transition_and_blocked_threads() {
        let d = decode(&fake::stalled(), 0.0).unwrap();
        let t = d.transition.unwrap();
        assert_eq!(t.patch, "lp-fix.2");
        assert_eq!(t.target, Target::Patched);
        assert_eq!(t.started_at, Some(STARTED as f64));
        assert_eq!(t.started_at_source, StartSource::Kernel);
        // Elapsed counts to the MIB's own clock, not the reader's.
        assert_eq!(t.elapsed_seconds, Some(300.0));
        assert_eq!((t.threads_total, t.threads_pending), (200, 2));
        assert!(!t.forced);
        assert_eq!(t.signals_sent, Some(20));
        assert_eq!(d.patches[1].state, PatchState::Patching);
        assert!(d.limitations.is_empty(), "{:?}", d.limitations);

        let b = &d.blocked_threads;
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].tid, b[0].pid), (101, 100));
        assert_eq!(b[0].state, "D");
        assert_eq!(b[0].blocked_since, Some(1_718_000_010.0));
        assert_eq!(b[0].wchan.as_deref(), Some("biord"));
        assert_eq!(b[0].blocking_function.as_deref(), Some("sys_read"));
        assert_eq!(b[0].comm, "dd");
        assert_eq!(
            b[0].stack,
            ["sleepq_wait+0x2c", "_sleep+0x1f1", "sys_read+0x1c"]
        );
        // Hostile name kept raw (sanitised at display), invalid UTF-8 as \xNN.
        assert_eq!(b[1].comm, "evil\u{1b}[2J\t\\xff");
        assert_eq!(b[1].wchan, None);
        assert_eq!(b[1].blocked_since, None);
        assert_eq!(b[1].stack, ["kern_select+0x10;x", "fork_exit+0x9f"]);
    }

    #[test]
    fn numbers_as_text_decode_the_same() {
        let nodes = fake::stalled();
        let text: Vec<(String, MibValue)> = nodes
            .iter()
            .map(|(n, v)| match v {
                MibValue::Int(x) => (n.clone(), s(&x.to_string())),
                other => (n.clone(), other.clone()),
            })
            .collect();
        let a = decode(&nodes, 5.0).unwrap();
        let b = decode(&text, 5.0).unwrap();
        assert_eq!(a.patches, b.patches);
        assert_eq!(a.transition, b.transition);
        assert_eq!(a.blocked_threads, b.blocked_threads);
        // And a string node that a dump reader typed as a number.
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1.name", i(42));
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(d.patches[0].name, "42");
    }

    #[test]
    fn bad_numbers_name_the_node() {
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, mib::TR_ACTIVE, s("yes"));
        assert_eq!(
            err(&nodes),
            "kern.livepatch.transition.active: 'yes' is not a number"
        );
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_THREADS_PENDING, i(-1));
        assert_eq!(
            err(&nodes),
            "kern.livepatch.transition.threads_pending: -1 is negative, expected a count"
        );
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1.state", i(7));
        assert!(
            err(&nodes).starts_with("kern.livepatch.patch.lp_fix1.state: unknown state code 7")
        );
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_TARGET, i(5));
        assert!(err(&nodes).starts_with("kern.livepatch.transition.target: unknown target 5"));
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_PATCH, s(""));
        assert!(err(&nodes).starts_with("kern.livepatch.transition.patch: empty"));
    }

    #[test]
    fn abi_version_is_checked_first() {
        // Unknown major: refused even though the rest is garbage to 1.x.
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, mib::ABI_VERSION, s("2.0"));
        fake::set(&mut nodes, mib::ABI_MAJOR_NODE, i(2));
        fake::set(&mut nodes, mib::TR_ACTIVE, s("garbage"));
        let e = decode(&nodes, 0.0).unwrap_err();
        assert!(
            matches!(&e, SourceError::UnsupportedAbi { found, supported: 1 } if found == "2.0"),
            "{e:?}"
        );
        // A newer minor is fine.
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, mib::ABI_VERSION, s("1.7"));
        fake::set(&mut nodes, "kern.livepatch.some_new_node", i(1));
        assert_eq!(
            decode(&nodes, 0.0).unwrap().kernel.abi_version.as_deref(),
            Some("1.7")
        );
        // Only the numeric nodes.
        let mut nodes = fake::healthy();
        fake::remove(&mut nodes, mib::ABI_VERSION);
        assert_eq!(
            decode(&nodes, 0.0).unwrap().kernel.abi_version.as_deref(),
            Some("1.0")
        );
        fake::set(&mut nodes, mib::ABI_MAJOR_NODE, i(3));
        assert!(matches!(
            decode(&nodes, 0.0),
            Err(SourceError::UnsupportedAbi { .. })
        ));
        // None at all.
        fake::remove(&mut nodes, mib::ABI_MAJOR_NODE);
        let e = err(&nodes);
        assert!(
            e.starts_with("sysctl kern.livepatch.abi_version: missing"),
            "{e}"
        );
        // Garbage and contradictions.
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, mib::ABI_VERSION, s("one"));
        assert!(err(&nodes).contains("'one' is not a version of the form MAJOR.MINOR"));
        fake::set(&mut nodes, mib::ABI_VERSION, s("1.0"));
        fake::set(&mut nodes, mib::ABI_MAJOR_NODE, i(2));
        assert!(err(&nodes).contains("inconsistent"));
    }

    #[test]
    fn optional_nodes_missing_give_none() {
        let mut nodes = fake::stalled();
        for n in [
            mib::STATS_COMPLETED,
            mib::STATS_REVERSED,
            mib::STATS_FORCED,
            mib::STATS_SIGNALS,
            mib::TIME,
            mib::TR_SIGNALS,
            mib::TR_FORCED,
            mib::BLOCKED_MAX,
            mib::KERNEL,
            "kern.livepatch.patch.lp_fix1.signer",
            "kern.livepatch.patch.lp_fix1.signed",
            "kern.livepatch.patch.lp_fix1.replace",
            "kern.livepatch.patch.lp_fix1.stack_order",
            "kern.livepatch.patch.lp_fix1.obj.kernel.patched",
        ] {
            fake::remove(&mut nodes, n);
        }
        let d = decode(&nodes, STARTED as f64 + 60.0).unwrap();
        assert_eq!(d.counters, None);
        assert_eq!(d.clock, None);
        assert_eq!(d.kernel.release, None);
        let t = d.transition.unwrap();
        assert_eq!(t.signals_sent, None);
        assert!(!t.forced);
        // Without the MIB's clock, elapsed counts to the reader's.
        assert_eq!(t.elapsed_seconds, Some(60.0));
        let p = d.patches.iter().find(|p| p.name == "lp_fix1").unwrap();
        assert_eq!(
            (p.signer.as_deref(), p.signed, p.replace, p.stack_order),
            (None, None, None, None)
        );
        assert_eq!(p.objects[0].patched, None);
        // A patch without stack_order sorts last.
        assert_eq!(d.patches.last().map(|p| p.name.as_str()), Some("lp_fix1"));
    }

    #[test]
    fn signature_codes() {
        let mut nodes = fake::healthy();
        let node = "kern.livepatch.patch.lp_fix1.signed";
        for (code, want) in [
            (0, Some(false)),
            (1, Some(true)),
            (2, Some(false)),
            (3, None),
            (9, None),
        ] {
            fake::set(&mut nodes, node, i(code));
            assert_eq!(
                decode(&nodes, 0.0).unwrap().patches[0].signed,
                want,
                "code {code}"
            );
        }
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1.signer", s(""));
        assert_eq!(decode(&nodes, 0.0).unwrap().patches[0].signer, None);
    }

    #[test]
    fn start_unknown_is_kernel_sourced_without_time() {
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_STARTED, i(0));
        let t = decode(&nodes, 0.0).unwrap().transition.unwrap();
        assert_eq!(t.started_at, None);
        assert_eq!(t.started_at_source, StartSource::Kernel);
        assert_eq!(t.elapsed_seconds, None);
    }

    #[test]
    fn bad_blocked_lines_are_skipped_and_named() {
        let mut nodes = fake::stalled();
        let text = format!(
            "{}x\t1\tD\t0\t-\t-\tbad\t-\n\n7\t8\n9\t9\tS\tsoon\t-\t-\tc\t-\n10\t10\tR\t0\t-\t-\tfine\n11\t11\tR\t0\t-\t-\tnew\tf+0x1\tfuture\tfields\n",
            fake::BLOCKED
        );
        fake::set(&mut nodes, mib::TR_BLOCKED, s(&text));
        fake::set(&mut nodes, mib::TR_NBLOCKED, i(4));
        let d = decode(&nodes, 0.0).unwrap();
        let comms: Vec<&str> = d.blocked_threads.iter().map(|b| b.comm.as_str()).collect();
        assert_eq!(comms[2..], ["fine", "new"]);
        assert!(d.blocked_threads[2].stack.is_empty());
        assert_eq!(d.blocked_threads[3].stack, ["f+0x1"]);
        assert_eq!(
            d.limitations,
            [
                "3 unreadable line(s) of kern.livepatch.transition.blocked left out: line 3 (tid is not a number), line 5 (no state), line 6 (blocked_since is not a number)"
            ]
        );
    }

    #[test]
    fn capped_or_unreadable_blocked_list_is_said() {
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_NBLOCKED, i(5000));
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(
            d.limitations,
            [
                "2 of 5000 blocked threads are listed (kern.livepatch.blocked_max is 1024; raise it with `sysctl kern.livepatch.blocked_max=N` to see more)"
            ]
        );
        fake::remove(&mut nodes, mib::TR_BLOCKED);
        let d = decode(&nodes, 0.0).unwrap();
        assert!(d.blocked_threads.is_empty());
        assert!(
            d.limitations[0]
                .contains("could not be read (not published, or reading it needs root)")
        );
    }

    #[test]
    fn incomplete_patch_subtree_is_a_limitation_or_strict_error() {
        let mut nodes = fake::healthy();
        fake::remove(&mut nodes, "kern.livepatch.patch.lp_fix_2.state");
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(d.patches.len(), 1);
        assert!(d.limitations[0].starts_with("patch subtree kern.livepatch.patch.lp_fix_2 was incomplete (kern.livepatch.patch.lp_fix_2.state missing"));
        assert_eq!(d.limitations.len(), 1, "{:?}", d.limitations);
        let e = decode_strict(&nodes, 0.0).unwrap_err().to_string();
        assert_eq!(
            e,
            "sysctl kern.livepatch.patch.lp_fix_2.state: missing: the patch subtree is incomplete"
        );

        let mut nodes = fake::healthy();
        fake::set(&mut nodes, mib::NPATCHES, i(3));
        let e = decode_strict(&nodes, 0.0).unwrap_err().to_string();
        assert_eq!(
            e,
            "sysctl kern.livepatch.npatches: says 3 patches but 2 patch subtrees were read"
        );
    }

    #[test]
    fn nfuncs_disagreeing_is_a_limitation_or_strict_error() {
        let mut nodes = fake::healthy();
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1.nfuncs", i(2));
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(
            d.limitations,
            [
                "kern.livepatch.patch.lp_fix1.nfuncs says 2 functions but 1 were read: the function list of 'lp_fix1' is incomplete"
            ]
        );
        assert_eq!(
            decode_strict(&nodes, 0.0).unwrap_err().to_string(),
            "sysctl kern.livepatch.patch.lp_fix1.nfuncs: says 2 functions but 1 were read"
        );
    }

    #[test]
    fn transition_of_an_unlisted_patch_is_said() {
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_PATCH, s("ghost"));
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(d.transition.unwrap().patch, "ghost");
        assert!(d.limitations[0].contains("names patch 'ghost', which has no subtree"));
    }

    #[test]
    fn missing_required_node_is_named() {
        let mut nodes = fake::stalled();
        fake::remove(&mut nodes, mib::TR_THREADS_TOTAL);
        assert_eq!(
            err(&nodes),
            "sysctl kern.livepatch.transition.threads_total: missing: every ABI 1.x module publishes it"
        );
        assert!(matches!(
            decode(&[], 0.0),
            Err(SourceError::NotFound { .. })
        ));
    }

    #[test]
    fn calls_counters_and_unknown_leaves() {
        let mut nodes = fake::healthy();
        let f = "kern.livepatch.patch.lp_fix1.obj.kernel.func.vn_read";
        fake::set(&mut nodes, &format!("{f}.calls"), s("18446744073709551615"));
        fake::set(&mut nodes, &format!("{f}.future_leaf"), s("x"));
        fake::set(
            &mut nodes,
            "kern.livepatch.patch.lp_fix1.obj.kernel.func",
            i(1),
        );
        fake::set(&mut nodes, "kern.livepatch.patch.lp_fix1", i(1));
        let d = decode(&nodes, 0.0).unwrap();
        assert_eq!(d.patches[0].objects[0].functions[0].calls, Some(u64::MAX));
        assert_eq!(d.patches[0].function_count(), 1);
    }

    /// The simulator publishes up to 100,000 blocked lines every second.
    #[test]
    fn large_blocked_lists_decode_in_one_pass() {
        let n = 100_000;
        let mut text = String::with_capacity(n * 80);
        for t in 0..n {
            text.push_str(&format!(
                "{}\t{}\tD\t1718000000\tbiord\tsys_read\tworker%1B{t}\tsleepq_wait+0x2c;_sleep+0x1f1;sys_read+0x1c\n",
                t + 100_000,
                t / 4 + 1
            ));
        }
        let mut nodes = fake::stalled();
        fake::set(&mut nodes, mib::TR_BLOCKED, s(&text));
        fake::set(&mut nodes, mib::TR_NBLOCKED, i(n as i64));
        // Many patches: lookups must not be linear in the patch count.
        for p in 0..2000 {
            let pre = format!("kern.livepatch.patch.bulk{p}");
            nodes.push((format!("{pre}.name"), s(&format!("bulk{p}"))));
            nodes.push((format!("{pre}.enabled"), i(1)));
            nodes.push((format!("{pre}.state"), i(1)));
            nodes.push((format!("{pre}.stack_order"), i(p + 3)));
            for f in 0..5 {
                nodes.push((format!("{pre}.obj.kernel.func.f{f}.name"), s("f")));
            }
        }
        fake::set(&mut nodes, mib::NPATCHES, i(2002));
        let started = std::time::Instant::now();
        let d = decode(&nodes, 0.0).unwrap();
        let took = started.elapsed();
        assert_eq!(d.blocked_threads.len(), n);
        assert_eq!(d.patches.len(), 2002);
        assert_eq!(
            d.blocked_threads[n - 1].comm,
            format!("worker\u{1b}{}", n - 1)
        );
        assert!(d.limitations.is_empty(), "{:?}", d.limitations);
        // Generous even for unoptimised builds on a busy machine.
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = MibValue> {
            prop_oneof![
                any::<i64>().prop_map(MibValue::Int),
                (-3i64..5).prop_map(MibValue::Int),
                "\\PC{0,12}".prop_map(MibValue::Str),
                "[0-9]{1,25}".prop_map(MibValue::Str),
            ]
        }

        proptest! {
            /// Any value in any node: an answer, never a panic.
            #[test]
            fn mutated_mibs_never_panic(
                edits in proptest::collection::vec((any::<proptest::sample::Index>(), value()), 1..8),
                drop in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
            ) {
                let mut nodes = fake::stalled();
                for (at, v) in edits {
                    let i = at.index(nodes.len());
                    nodes[i].1 = v;
                }
                for at in drop {
                    let i = at.index(nodes.len());
                    nodes.remove(i);
                }
                // Errors say which node (or the ABI) is wrong.
                let errors = [decode(&nodes, 0.0).err(), decode_strict(&nodes, 0.0).err()];
                for e in errors.into_iter().flatten() {
                    let msg = e.to_string();
                    prop_assert!(msg.contains("kern.livepatch"), "{}", msg);
                }
                // Whatever decodes is consistent: pending above the total
                // is said, not silently shown.
                if let Ok(d) = decode(&nodes, 0.0)
                    && let Some(t) = &d.transition
                {
                    prop_assert!(
                        t.threads_pending <= t.threads_total
                            || d.limitations.iter().any(|l| l.contains("thread counts disagree"))
                    );
                }
            }

            /// Arbitrary blocked text: every line is a thread or a counted
            /// unreadable line.
            #[test]
            fn blocked_text_never_panics(text in r"([0-9\t%;A-Za-z\n\r-]|\PC){0,300}") {
                let mut nodes = fake::stalled();
                fake::set(&mut nodes, mib::TR_BLOCKED, s(&text));
                let d = decode(&nodes, 0.0).unwrap();
                let lines = text
                    .split('\n')
                    .filter(|l| !l.strip_suffix('\r').unwrap_or(l).is_empty())
                    .count();
                let bad: usize = d
                    .limitations
                    .iter()
                    .filter(|l| l.contains("unreadable line"))
                    .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
                    .next()
                    .unwrap_or(0);
                prop_assert_eq!(d.blocked_threads.len() + bad, lines);
            }
        }
    }

    /// `include/livepatch_mib.h` and `mib.rs` describe one contract.
    #[test]
    fn c_header_matches_mib_rs() {
        let header = include_str!("../../../include/livepatch_mib.h");
        let define = |name: &str| -> String {
            let line = header
                .lines()
                .find(|l| {
                    let mut w = l.split_whitespace();
                    w.next() == Some("#define") && w.next() == Some(name)
                })
                .unwrap_or_else(|| panic!("{name} not defined in livepatch_mib.h"));
            line.split_whitespace()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Numbers may carry a trailing comment.
        let num = |name: &str| -> i64 {
            define(name)
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let string = |name: &str| -> String { define(name).trim_matches('"').to_string() };

        assert_eq!(num("LIVEPATCH_ABI_MAJOR"), i64::from(mib::ABI_MAJOR));
        assert_eq!(num("LIVEPATCH_ABI_MINOR"), i64::from(mib::ABI_MINOR));
        assert_eq!(
            string("LIVEPATCH_ABI_VERSION"),
            format!("{}.{}", mib::ABI_MAJOR, mib::ABI_MINOR)
        );
        for st in [
            PatchState::Disabled,
            PatchState::Enabled,
            PatchState::Patching,
            PatchState::Unpatching,
        ] {
            let name = format!("LIVEPATCH_STATE_{}", st.as_str().to_uppercase());
            assert_eq!(num(&name), i64::from(st.code()), "{name}");
        }
        assert_eq!(num("LIVEPATCH_SIG_UNSIGNED"), mib::sig::UNSIGNED);
        assert_eq!(num("LIVEPATCH_SIG_VERIFIED"), mib::sig::VERIFIED);
        assert_eq!(num("LIVEPATCH_SIG_BAD"), mib::sig::BAD);
        assert_eq!(num("LIVEPATCH_SIG_UNKNOWN"), mib::sig::UNKNOWN);
        assert_eq!(
            num("LIVEPATCH_TARGET_PATCHED"),
            i64::from(Target::Patched.code())
        );
        assert_eq!(
            num("LIVEPATCH_TARGET_UNPATCHED"),
            i64::from(Target::Unpatched.code())
        );
        assert_eq!(num("LIVEPATCH_BLOCKED_FIELDS"), mib::BLOCKED_FIELDS as i64);
        assert_eq!(
            num("LIVEPATCH_BLOCKED_MAX_DEFAULT"),
            i64::from(mib::BLOCKED_MAX_DEFAULT)
        );
        assert_eq!(string("LIVEPATCH_BLOCKED_EMPTY"), mib::BLOCKED_EMPTY);
        // The line format is a continued macro: compare the quoted text.
        let fmt_at = header
            .find("#define LIVEPATCH_BLOCKED_LINE_FORMAT")
            .unwrap();
        let quoted = header[fmt_at..]
            .split('"')
            .nth(1)
            .unwrap()
            .replace("\\t", "\t");
        assert_eq!(quoted, mib::BLOCKED_LINE_FORMAT);
        assert_eq!(quoted.split('\t').count(), mib::BLOCKED_FIELDS);

        for (mac, node) in [
            ("LIVEPATCH_MIB_ROOT", mib::ROOT),
            ("LIVEPATCH_NODE_ABI_VERSION", mib::ABI_VERSION),
            ("LIVEPATCH_NODE_ABI_MAJOR", mib::ABI_MAJOR_NODE),
            ("LIVEPATCH_NODE_ABI_MINOR", mib::ABI_MINOR_NODE),
            ("LIVEPATCH_NODE_KERNEL", mib::KERNEL),
            ("LIVEPATCH_NODE_TIME", mib::TIME),
            ("LIVEPATCH_NODE_NPATCHES", mib::NPATCHES),
            ("LIVEPATCH_NODE_BLOCKED_MAX", mib::BLOCKED_MAX),
            ("LIVEPATCH_NODE_STATS_COMPLETED", mib::STATS_COMPLETED),
            ("LIVEPATCH_NODE_STATS_REVERSED", mib::STATS_REVERSED),
            ("LIVEPATCH_NODE_STATS_FORCED", mib::STATS_FORCED),
            ("LIVEPATCH_NODE_STATS_SIGNALS", mib::STATS_SIGNALS),
            ("LIVEPATCH_NODE_TR_ACTIVE", mib::TR_ACTIVE),
            ("LIVEPATCH_NODE_TR_PATCH", mib::TR_PATCH),
            ("LIVEPATCH_NODE_TR_TARGET", mib::TR_TARGET),
            ("LIVEPATCH_NODE_TR_STARTED", mib::TR_STARTED),
            ("LIVEPATCH_NODE_TR_THREADS_TOTAL", mib::TR_THREADS_TOTAL),
            ("LIVEPATCH_NODE_TR_THREADS_PENDING", mib::TR_THREADS_PENDING),
            ("LIVEPATCH_NODE_TR_FORCED", mib::TR_FORCED),
            ("LIVEPATCH_NODE_TR_SIGNALS", mib::TR_SIGNALS),
            ("LIVEPATCH_NODE_TR_NBLOCKED", mib::TR_NBLOCKED),
            ("LIVEPATCH_NODE_TR_BLOCKED", mib::TR_BLOCKED),
            ("LIVEPATCH_NODE_TR_FORCE", mib::TR_FORCE),
            ("LIVEPATCH_NODE_TR_SIGNAL", mib::TR_SIGNAL),
            ("LIVEPATCH_NODE_PATCH_PREFIX", mib::PATCH_PREFIX),
            ("LIVEPATCH_LEAF_NAME", leaf::NAME),
            ("LIVEPATCH_LEAF_ENABLED", leaf::ENABLED),
            ("LIVEPATCH_LEAF_STATE", leaf::STATE),
            ("LIVEPATCH_LEAF_REPLACE", leaf::REPLACE),
            ("LIVEPATCH_LEAF_STACK_ORDER", leaf::STACK_ORDER),
            ("LIVEPATCH_LEAF_SIGNED", leaf::SIGNED),
            ("LIVEPATCH_LEAF_SIGNER", leaf::SIGNER),
            ("LIVEPATCH_LEAF_LOADED", leaf::LOADED),
            ("LIVEPATCH_LEAF_NFUNCS", leaf::NFUNCS),
            ("LIVEPATCH_LEAF_OBJ", leaf::OBJ),
            ("LIVEPATCH_LEAF_PATCHED", leaf::OBJ_PATCHED),
            ("LIVEPATCH_LEAF_FUNC", leaf::FUNC),
            ("LIVEPATCH_LEAF_SYMPOS", leaf::FUNC_SYMPOS),
            ("LIVEPATCH_LEAF_CALLS", leaf::FUNC_CALLS),
        ] {
            assert_eq!(string(mac), node, "{mac}");
        }
    }
}
