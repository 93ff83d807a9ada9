//! The console's state and behaviour, without a terminal.
//!
//! [`App`] takes key events and snapshots and answers with [`Request`]s;
//! the event loop in [`crate::terminal`] carries those out against the
//! [`kmod_bridge::Source`] and feeds the results back
//! ([`App::on_plan`], [`App::on_executed`]). Tests drive it the same way.

use std::cell::Cell;
use std::cmp::Ordering;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use kmod_bridge::control::{ActionKind, ControlAction, ControlError, ControlOutcome, ControlPlan};
use kmod_bridge::model::{BlockedThread, Patch, Snapshot};
use kmod_bridge::sanitize::for_terminal;
use kmod_bridge::source::Capabilities;
use kmod_bridge::watch::{EventKind, Watch, WatchConfig};

use crate::UiOptions;

/// The panes that take the focus (Tab / Shift-Tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The patch table.
    Patches,
    /// The blocked-thread table.
    Threads,
    /// The event log.
    Events,
}

impl Pane {
    /// Every focusable pane, in Tab order.
    pub const ALL: [Pane; 3] = [Pane::Patches, Pane::Threads, Pane::Events];

    /// Title word.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Patches => "Patches",
            Pane::Threads => "Blocked threads",
            Pane::Events => "Events",
        }
    }

    fn next(self) -> Pane {
        match self {
            Pane::Patches => Pane::Threads,
            Pane::Threads => Pane::Events,
            Pane::Events => Pane::Patches,
        }
    }

    fn prev(self) -> Pane {
        match self {
            Pane::Patches => Pane::Events,
            Pane::Threads => Pane::Patches,
            Pane::Events => Pane::Threads,
        }
    }
}

/// Columns the blocked-thread table sorts by (`o` cycles, `O` reverses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// How long the thread has been blocked (longest first by default).
    #[default]
    BlockedFor,
    /// Thread id.
    Tid,
    /// Process id.
    Pid,
    /// Thread name.
    Comm,
    /// Scheduler state.
    State,
    /// Blocking function.
    Function,
}

impl SortKey {
    /// Column label, as in the table header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::BlockedFor => "blocked for",
            SortKey::Tid => "tid",
            SortKey::Pid => "pid",
            SortKey::Comm => "comm",
            SortKey::State => "state",
            SortKey::Function => "blocking function",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::BlockedFor => SortKey::Tid,
            SortKey::Tid => SortKey::Pid,
            SortKey::Pid => SortKey::Comm,
            SortKey::Comm => SortKey::State,
            SortKey::State => SortKey::Function,
            SortKey::Function => SortKey::BlockedFor,
        }
    }
}

/// The blocked-thread table's view: which threads (indices into the
/// snapshot's `blocked_threads`), in which order, and the selection.
///
/// The view is rebuilt when a snapshot arrives or the sort or filter
/// changes, never per frame; drawing only builds the visible rows.
#[derive(Debug, Default)]
pub struct ThreadList {
    /// Indices into `Snapshot::blocked_threads`, filtered and sorted.
    pub view: Vec<usize>,
    /// Selected position in `view`.
    pub selected: usize,
    /// First visible position; adjusted while drawing to keep the
    /// selection in sight.
    pub offset: Cell<usize>,
    /// Rows visible at the last draw (for page up/down).
    pub page: Cell<usize>,
    /// Sort column.
    pub sort: SortKey,
    /// Reverse the column's natural order.
    pub reversed: bool,
    /// Filter text (case-insensitive substring of comm, wchan, blocking
    /// function, state, or tid/pid).
    pub filter: String,
    /// Thread id kept selected across refreshes.
    selected_tid: Option<u32>,
}

impl ThreadList {
    /// Rebuild `view` from `threads`, keeping the selected thread selected.
    pub fn rebuild(&mut self, threads: &[BlockedThread], watch: &Watch) {
        let needle = self.filter.trim().to_lowercase();
        let mut view: Vec<usize> = if needle.is_empty() {
            (0..threads.len()).collect()
        } else {
            threads
                .iter()
                .enumerate()
                .filter(|(_, t)| thread_matches(t, &needle))
                .map(|(i, _)| i)
                .collect()
        };
        sort_view(&mut view, threads, watch, self.sort, self.reversed);
        self.view = view;
        let pos = self.selected_tid.and_then(|tid| {
            self.view
                .iter()
                .position(|&i| threads.get(i).is_some_and(|t| t.tid == tid))
        });
        self.selected = pos.unwrap_or_else(|| self.selected.min(self.view.len().saturating_sub(1)));
        self.remember(threads);
    }

    fn remember(&mut self, threads: &[BlockedThread]) {
        self.selected_tid = self
            .view
            .get(self.selected)
            .and_then(|&i| threads.get(i))
            .map(|t| t.tid);
    }

    fn move_by(&mut self, delta: isize, threads: &[BlockedThread]) {
        self.selected = step(self.selected, delta, self.view.len());
        self.remember(threads);
    }

    fn move_to(&mut self, pos: usize, threads: &[BlockedThread]) {
        self.selected = pos.min(self.view.len().saturating_sub(1));
        self.remember(threads);
    }

    /// The selected thread in `threads`.
    pub fn selected_thread<'a>(&self, threads: &'a [BlockedThread]) -> Option<&'a BlockedThread> {
        self.view.get(self.selected).and_then(|&i| threads.get(i))
    }
}

fn step(pos: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let max = len - 1;
    if delta < 0 {
        pos.saturating_sub(delta.unsigned_abs())
    } else {
        pos.saturating_add(delta.unsigned_abs()).min(max)
    }
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        hay.to_lowercase().contains(needle_lower)
    }
}

fn thread_matches(t: &BlockedThread, needle: &str) -> bool {
    contains_ci(&t.comm, needle)
        || t.blocking_function
            .as_deref()
            .is_some_and(|f| contains_ci(f, needle))
        || t.wchan.as_deref().is_some_and(|w| contains_ci(w, needle))
        || t.state.eq_ignore_ascii_case(needle)
        || (needle.bytes().all(|b| b.is_ascii_digit())
            && (t.tid.to_string().contains(needle) || t.pid.to_string().contains(needle)))
}

fn sort_view(
    view: &mut [usize],
    threads: &[BlockedThread],
    watch: &Watch,
    key: SortKey,
    reversed: bool,
) {
    let get = |i: usize| threads.get(i);
    // Ties are broken by tid so the order is stable across refreshes.
    let tid = |i: usize| get(i).map_or(0, |t| t.tid);
    match key {
        SortKey::BlockedFor => {
            // Longest blocked (earliest "since") first, unknown last; among
            // equals, threads with a known blocking function first (they
            // say what to do), then by tid.
            let mut keyed: Vec<(f64, bool, u32, usize)> = view
                .iter()
                .map(|&i| {
                    let t = get(i);
                    let since = t
                        .and_then(|t| watch.blocked_since(t.tid))
                        .unwrap_or(f64::INFINITY);
                    let unknown = t.is_none_or(|t| t.blocking_function.is_none());
                    (since, unknown, tid(i), i)
                })
                .collect();
            keyed.sort_unstable_by(|a, b| {
                a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
            });
            for (slot, (_, _, _, i)) in view.iter_mut().zip(keyed) {
                *slot = i;
            }
        }
        SortKey::Tid => view.sort_unstable_by_key(|&i| tid(i)),
        SortKey::Pid => view.sort_unstable_by_key(|&i| (get(i).map_or(0, |t| t.pid), tid(i))),
        SortKey::Comm => view.sort_unstable_by(|&a, &b| {
            cmp_str(
                get(a).map(|t| t.comm.as_str()),
                get(b).map(|t| t.comm.as_str()),
            )
            .then(tid(a).cmp(&tid(b)))
        }),
        SortKey::State => view.sort_unstable_by(|&a, &b| {
            cmp_str(
                get(a).map(|t| t.state.as_str()),
                get(b).map(|t| t.state.as_str()),
            )
            .then(tid(a).cmp(&tid(b)))
        }),
        SortKey::Function => view.sort_unstable_by(|&a, &b| {
            cmp_str(
                get(a).and_then(|t| t.blocking_function.as_deref()),
                get(b).and_then(|t| t.blocking_function.as_deref()),
            )
            .then(tid(a).cmp(&tid(b)))
        }),
    }
    if reversed {
        view.reverse();
    }
}

/// `None` sorts last.
fn cmp_str(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A confirmation in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// What will be done, as the source planned it.
    pub plan: ControlPlan,
    /// For force: what the user typed so far.
    pub typed: String,
}

impl Confirm {
    /// Force needs the patch name typed; the others a `y`.
    pub fn needs_typed_name(&self) -> bool {
        self.plan.action.kind == ActionKind::Force
    }

    /// The text the user must type: the patch name as displayed.
    pub fn expected_name(&self) -> String {
        for_terminal(&self.plan.action.patch).into_owned()
    }
}

/// A window over the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    /// Every key, with what it does.
    Help {
        /// First line shown (small terminals scroll).
        scroll: usize,
    },
    /// Confirmation of a planned control.
    Confirm(Confirm),
    /// The focused pane's selection in full: a thread's stack or a patch's
    /// objects and functions.
    Detail,
}

/// What the status line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMsg {
    /// The text (may hold untrusted parts: sanitised when drawn).
    pub text: String,
    /// How to show it.
    pub level: Level,
}

/// Importance of a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral information.
    Info,
    /// Something worked.
    Success,
    /// Something failed.
    Error,
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Nothing beyond redrawing.
    None,
    /// Leave the console.
    Quit,
    /// Ask the source to plan this control ([`kmod_bridge::Source::plan`]),
    /// then give the result to [`App::on_plan`].
    Plan(ControlAction),
    /// The user confirmed: run [`kmod_bridge::Source::execute`], give the
    /// result to [`App::on_executed`], then take a snapshot.
    Execute(ControlPlan),
}

/// The console's whole state.
#[derive(Debug)]
pub struct App {
    /// Options it runs with.
    pub opts: UiOptions,
    /// Controls the source supports.
    pub caps: Capabilities,
    /// The last snapshot read, if any.
    pub snapshot: Option<Snapshot>,
    /// History over the snapshots.
    pub watch: Watch,
    /// The last read error, while reading fails.
    pub read_error: Option<String>,
    /// Focused pane.
    pub focus: Pane,
    /// Selected patch (index into `snapshot.patches`).
    pub patch_selected: usize,
    patch_selected_name: Option<String>,
    /// Until the user picks a patch, the selection follows the transition.
    follow_transition: bool,
    /// The blocked-thread table.
    pub threads: ThreadList,
    /// Events scrolled past (0 = newest at the top).
    pub events_scroll: usize,
    /// Open popup.
    pub popup: Option<Popup>,
    /// Editing the filter (`/`).
    pub editing_filter: bool,
    /// Status line message.
    pub status: Option<StatusMsg>,
    /// Refresh paused (`p`).
    pub paused: bool,
    /// Current time (Unix seconds): the last snapshot's `taken_at`, so a
    /// paused or replayed view stays consistent.
    pub now: f64,
}

impl App {
    /// A console for a source with `caps`, before any snapshot.
    pub fn new(opts: UiOptions, caps: Capabilities) -> Self {
        let watch = Watch::new(WatchConfig {
            stall_after: opts.stall_after,
            ..WatchConfig::default()
        });
        Self {
            opts,
            caps,
            snapshot: None,
            watch,
            read_error: None,
            focus: Pane::Threads,
            patch_selected: 0,
            patch_selected_name: None,
            follow_transition: true,
            threads: ThreadList::default(),
            events_scroll: 0,
            popup: None,
            editing_filter: false,
            status: None,
            paused: false,
            now: 0.0,
        }
    }

    /// Whether control `kind` is offered (not read-only, and the source
    /// supports it). Keys, hints and help follow this.
    pub fn control_offered(&self, kind: ActionKind) -> bool {
        !self.opts.read_only
            && match kind {
                ActionKind::Revert => self.caps.revert,
                ActionKind::Force => self.caps.force,
                ActionKind::Signal => self.caps.signal,
            }
    }

    /// Take in the result of a read.
    pub fn on_snapshot(&mut self, result: Result<Snapshot, String>, now: f64) {
        match result {
            Ok(snap) => {
                self.now = snap.taken_at;
                self.watch.observe(&snap);
                self.read_error = None;
                self.snapshot = Some(snap);
                self.after_new_snapshot();
            }
            Err(e) => {
                self.now = now;
                self.watch.observe_error(now, &e);
                self.read_error = Some(e);
            }
        }
    }

    fn after_new_snapshot(&mut self) {
        let Some(snap) = &self.snapshot else { return };
        // Patch selection: follow the transition until the user moves;
        // else keep the same patch by name.
        let by_name = |name: &str| snap.patches.iter().position(|p| p.name == name);
        let in_transition = snap.transition.as_ref().and_then(|t| by_name(&t.patch));
        let kept = self.patch_selected_name.as_deref().and_then(by_name);
        self.patch_selected = match (self.follow_transition, in_transition, kept) {
            (true, Some(i), _) => i,
            (_, _, Some(i)) => i,
            _ => self
                .patch_selected
                .min(snap.patches.len().saturating_sub(1)),
        };
        self.patch_selected_name = snap
            .patches
            .get(self.patch_selected)
            .map(|p| p.name.clone());
        self.threads.rebuild(&snap.blocked_threads, &self.watch);
        if self.events_scroll > 0 {
            self.events_scroll = self
                .events_scroll
                .min(self.watch.events().len().saturating_sub(1));
        }
    }

    /// The selected patch.
    pub fn selected_patch(&self) -> Option<&Patch> {
        self.snapshot
            .as_ref()
            .and_then(|s| s.patches.get(self.patch_selected))
    }

    /// The selected blocked thread.
    pub fn selected_thread(&self) -> Option<&BlockedThread> {
        self.snapshot
            .as_ref()
            .and_then(|s| self.threads.selected_thread(&s.blocked_threads))
    }

    /// The blocked threads of the last snapshot.
    pub fn blocked_threads(&self) -> &[BlockedThread] {
        self.snapshot
            .as_ref()
            .map_or(&[], |s| s.blocked_threads.as_slice())
    }

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(StatusMsg {
            text: text.into(),
            level,
        });
    }

    /// Handle one key.
    pub fn on_key(&mut self, key: KeyEvent) -> Request {
        if key.kind == KeyEventKind::Release {
            return Request::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            return Request::Quit;
        }
        if let Some(popup) = self.popup.take() {
            return self.on_popup_key(popup, key);
        }
        // A message stays until the next key, like an editor's.
        self.status = None;
        if self.editing_filter {
            self.on_filter_key(key);
            return Request::None;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Request::Quit,
            KeyCode::Char('?') | KeyCode::F(1) => self.popup = Some(Popup::Help { scroll: 0 }),
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::BackTab => self.focus = self.focus.prev(),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(self.page() as isize),
            KeyCode::PageUp => self.move_selection(-(self.page() as isize)),
            KeyCode::Home | KeyCode::Char('g') => self.move_selection(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.move_selection(isize::MAX),
            KeyCode::Enter if self.focus != Pane::Events => self.popup = Some(Popup::Detail),
            KeyCode::Char('/') => {
                self.focus = Pane::Threads;
                self.editing_filter = true;
            }
            KeyCode::Char('o') => {
                self.threads.sort = self.threads.sort.next();
                self.threads.reversed = false;
                self.rebuild_threads();
                self.say(
                    Level::Info,
                    format!("blocked threads sorted by {}", self.threads.sort.label()),
                );
            }
            KeyCode::Char('O') => {
                self.threads.reversed = !self.threads.reversed;
                self.rebuild_threads();
                self.say(
                    Level::Info,
                    format!(
                        "blocked threads sorted by {}{}",
                        self.threads.sort.label(),
                        if self.threads.reversed {
                            ", reversed"
                        } else {
                            ""
                        }
                    ),
                );
            }
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                let msg = if self.paused {
                    "refresh paused: press p to resume"
                } else {
                    "refresh resumed"
                };
                self.say(Level::Info, msg);
            }
            KeyCode::Char('r') => return self.request_control(ActionKind::Revert),
            KeyCode::Char('f') => return self.request_control(ActionKind::Force),
            KeyCode::Char('s') => return self.request_control(ActionKind::Signal),
            _ => {}
        }
        Request::None
    }

    fn page(&self) -> usize {
        self.threads.page.get().max(1)
    }

    fn rebuild_threads(&mut self) {
        if let Some(snap) = &self.snapshot {
            self.threads.rebuild(&snap.blocked_threads, &self.watch);
        }
    }

    fn move_selection(&mut self, delta: isize) {
        match self.focus {
            Pane::Patches => {
                let len = self.snapshot.as_ref().map_or(0, |s| s.patches.len());
                self.patch_selected = step(self.patch_selected, delta, len);
                self.follow_transition = false;
                self.patch_selected_name = self.selected_patch().map(|p| p.name.clone());
            }
            Pane::Threads => {
                let Some(snap) = &self.snapshot else { return };
                match delta {
                    isize::MIN => self.threads.move_to(0, &snap.blocked_threads),
                    isize::MAX => self.threads.move_to(usize::MAX, &snap.blocked_threads),
                    d => self.threads.move_by(d, &snap.blocked_threads),
                }
            }
            Pane::Events => {
                let len = self.watch.events().len();
                self.events_scroll = step(self.events_scroll, delta, len);
            }
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                self.editing_filter = false;
                self.threads.filter.clear();
                self.rebuild_threads();
            }
            KeyCode::Backspace => {
                self.threads.filter.pop();
                self.rebuild_threads();
            }
            KeyCode::Down => self.move_selection(1),
            KeyCode::Up => self.move_selection(-1),
            KeyCode::Char(c) if !c.is_control() && self.threads.filter.chars().count() < 64 => {
                self.threads.filter.push(c);
                self.rebuild_threads();
            }
            _ => {}
        }
    }

    fn request_control(&mut self, kind: ActionKind) -> Request {
        if self.opts.read_only {
            // Read-only has no controls at all: the key does nothing.
            return Request::None;
        }
        if !self.control_offered(kind) {
            let source = self
                .snapshot
                .as_ref()
                .map_or("this".to_string(), |s| s.source.kind.to_string());
            self.say(
                Level::Error,
                format!("{kind} is not supported by the {source} source"),
            );
            return Request::None;
        }
        match self.selected_patch() {
            Some(p) => Request::Plan(ControlAction {
                kind,
                patch: p.name.clone(),
            }),
            None => {
                self.say(Level::Error, format!("no patch selected to {kind}"));
                Request::None
            }
        }
    }

    /// Take in the source's plan for a requested control: open the
    /// confirmation, or say why it cannot be done.
    pub fn on_plan(&mut self, result: Result<ControlPlan, ControlError>) {
        match result {
            Ok(plan) => {
                self.popup = Some(Popup::Confirm(Confirm {
                    plan,
                    typed: String::new(),
                }))
            }
            Err(e) => self.say(Level::Error, format!("nothing was written: {e}")),
        }
    }

    /// Take in the result of an executed control: status line and event log.
    pub fn on_executed(
        &mut self,
        plan: &ControlPlan,
        result: Result<ControlOutcome, ControlError>,
        now: f64,
    ) {
        let action = plan.action.kind;
        let patch = plan.action.patch.clone();
        let writes = plan
            .writes
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        match result {
            Ok(outcome) => {
                let text = format!("{action} of '{patch}': {} ({writes})", outcome.message);
                self.watch
                    .record(now, EventKind::ControlSucceeded, Some(patch), text.clone());
                self.say(Level::Success, text);
            }
            Err(e) => {
                let text = format!("{action} of '{patch}' failed: {e}");
                self.watch
                    .record(now, EventKind::ControlFailed, Some(patch), text.clone());
                self.say(Level::Error, text);
            }
        }
        self.events_scroll = 0;
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent) -> Request {
        match popup {
            Popup::Help { scroll } => match key.code {
                KeyCode::Char('q') => Request::Quit,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter | KeyCode::F(1) => Request::None,
                KeyCode::Down | KeyCode::Char('j') => {
                    self.popup = Some(Popup::Help {
                        scroll: scroll.saturating_add(1).min(64),
                    });
                    Request::None
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.popup = Some(Popup::Help {
                        scroll: scroll.saturating_sub(1),
                    });
                    Request::None
                }
                _ => {
                    self.popup = Some(Popup::Help { scroll });
                    Request::None
                }
            },
            Popup::Detail => match key.code {
                KeyCode::Char('q') => Request::Quit,
                KeyCode::Esc | KeyCode::Enter => Request::None,
                KeyCode::Down | KeyCode::Char('j') => {
                    self.move_selection(1);
                    self.popup = Some(Popup::Detail);
                    Request::None
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.move_selection(-1);
                    self.popup = Some(Popup::Detail);
                    Request::None
                }
                _ => {
                    self.popup = Some(Popup::Detail);
                    Request::None
                }
            },
            Popup::Confirm(confirm) => self.on_confirm_key(confirm, key),
        }
    }

    fn on_confirm_key(&mut self, mut confirm: Confirm, key: KeyEvent) -> Request {
        let what = format!(
            "{} of '{}'",
            confirm.plan.action.kind, confirm.plan.action.patch
        );
        let cancelled = |app: &mut App| {
            app.say(
                Level::Info,
                format!("{what} cancelled: nothing was written"),
            );
            Request::None
        };
        if key.code == KeyCode::Esc {
            return cancelled(self);
        }
        if confirm.needs_typed_name() {
            match key.code {
                KeyCode::Enter => {
                    if !confirm.typed.is_empty() && confirm.typed == confirm.expected_name() {
                        Request::Execute(confirm.plan)
                    } else if confirm.typed.is_empty() {
                        cancelled(self)
                    } else {
                        self.say(
                            Level::Info,
                            format!(
                                "{} of '{}' cancelled: the typed name did not match; nothing was written",
                                confirm.plan.action.kind, confirm.plan.action.patch
                            ),
                        );
                        Request::None
                    }
                }
                KeyCode::Backspace => {
                    confirm.typed.pop();
                    self.popup = Some(Popup::Confirm(confirm));
                    Request::None
                }
                KeyCode::Char(c) if !c.is_control() => {
                    if confirm.typed.chars().count() < 300 {
                        confirm.typed.push(c);
                    }
                    self.popup = Some(Popup::Confirm(confirm));
                    Request::None
                }
                _ => {
                    self.popup = Some(Popup::Confirm(confirm));
                    Request::None
                }
            }
        } else {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Request::Execute(confirm.plan),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Enter => cancelled(self),
                KeyCode::Char('q') => Request::Quit,
                _ => {
                    self.popup = Some(Popup::Confirm(confirm));
                    Request::None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Request;
    use kmod_bridge::control::{PlannedWrite, Precondition};
    use kmod_bridge::model::*;

    pub(crate) fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    pub(crate) fn code(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn thread(tid: u32, comm: &str, func: Option<&str>, since: Option<f64>) -> BlockedThread {
        BlockedThread {
            tid,
            pid: tid,
            comm: comm.into(),
            state: "D".into(),
            wchan: Some("msleep".into()),
            blocking_function: func.map(Into::into),
            stack: vec![],
            blocked_since: since,
        }
    }

    fn patch(name: &str, state: PatchState) -> Patch {
        Patch {
            name: name.into(),
            enabled: matches!(state, PatchState::Enabled | PatchState::Patching),
            state,
            replace: Some(false),
            stack_order: Some(1),
            signed: Some(true),
            signer: None,
            loaded_at: None,
            objects: vec![],
        }
    }

    fn snap() -> Snapshot {
        Snapshot {
            schema_version: JSON_SCHEMA_VERSION,
            source: SourceInfo {
                kind: SourceKind::Sim,
                location: "test".into(),
                writable: true,
            },
            kernel: KernelInfo::default(),
            taken_at: 1000.0,
            patches: vec![
                patch("a", PatchState::Enabled),
                patch("b", PatchState::Patching),
                patch("c", PatchState::Disabled),
            ],
            transition: Some(Transition {
                patch: "b".into(),
                target: Target::Patched,
                started_at: Some(900.0),
                started_at_source: StartSource::Kernel,
                elapsed_seconds: Some(100.0),
                threads_total: 10,
                threads_pending: 3,
                forced: false,
                signals_sent: None,
            }),
            blocked_threads: vec![
                thread(30, "kworker/0:1", Some("vfs_read"), Some(990.0)),
                thread(10, "sshd", Some("do_sys_poll"), Some(950.0)),
                thread(20, "Kvm-vcpu", None, Some(999.0)),
            ],
            counters: None,
            limitations: vec![],
        }
    }

    fn caps() -> Capabilities {
        Capabilities {
            revert: true,
            force: true,
            signal: false,
        }
    }

    fn app() -> App {
        let mut a = App::new(UiOptions::default(), caps());
        a.on_snapshot(Ok(snap()), 1000.0);
        a
    }

    fn plan(kind: ActionKind) -> ControlPlan {
        ControlPlan {
            action: ControlAction {
                kind,
                patch: "b".into(),
            },
            writes: vec![PlannedWrite {
                target: "kern.livepatch.patch.b.enabled".into(),
                value: "0".into(),
            }],
            effect: "reverses".into(),
            irreversible: kind == ActionKind::Force,
            advice: None,
            precondition: Precondition {
                patch_state: PatchState::Patching,
                transition: Some(("b".into(), Target::Patched)),
            },
        }
    }

    #[test]
    fn starts_on_the_patch_in_transition_so_r_reverts_it() {
        let mut a = app();
        assert_eq!(a.selected_patch().map(|p| p.name.as_str()), Some("b"));
        assert_eq!(
            a.on_key(key('r')),
            Request::Plan(ControlAction::revert("b"))
        );
    }

    #[test]
    fn threads_sort_longest_blocked_first_and_cycle() {
        let mut a = app();
        let tids = |a: &App| -> Vec<u32> {
            a.threads
                .view
                .iter()
                .map(|&i| a.blocked_threads()[i].tid)
                .collect()
        };
        assert_eq!(tids(&a), vec![10, 30, 20]);
        // Equal times: a known blocking function first, then tid.
        let mut s = snap();
        for t in &mut s.blocked_threads {
            t.blocked_since = Some(900.0);
        }
        let mut b = App::new(UiOptions::default(), caps());
        b.on_snapshot(Ok(s), 1000.0);
        assert_eq!(tids(&b), vec![10, 30, 20]);
        a.on_key(key('o'));
        assert_eq!(a.threads.sort, SortKey::Tid);
        assert_eq!(tids(&a), vec![10, 20, 30]);
        a.on_key(key('O'));
        assert_eq!(tids(&a), vec![30, 20, 10]);
        a.on_key(key('o')); // pid
        a.on_key(key('o')); // comm: byte order, upper case first
        assert_eq!(tids(&a), vec![20, 30, 10]);
        for _ in 0..3 {
            a.on_key(key('o'));
        }
        assert_eq!(a.threads.sort, SortKey::BlockedFor);
    }

    #[test]
    fn filter_narrows_and_selection_follows_the_thread() {
        let mut a = app();
        a.on_key(key('j')); // select tid 30
        assert_eq!(a.selected_thread().map(|t| t.tid), Some(30));
        a.on_key(key('/'));
        assert!(a.editing_filter);
        for c in "VFS".chars() {
            a.on_key(key(c));
        }
        assert_eq!(a.threads.view.len(), 1);
        assert_eq!(a.selected_thread().map(|t| t.tid), Some(30));
        // q while typing is text, not quit.
        assert_eq!(a.on_key(key('q')), Request::None);
        assert_eq!(a.threads.filter, "VFSq");
        assert!(a.threads.view.is_empty());
        a.on_key(code(KeyCode::Backspace));
        a.on_key(code(KeyCode::Enter));
        assert!(!a.editing_filter);
        assert_eq!(a.threads.filter, "VFS");
        // Numbers match tids.
        a.on_key(key('/'));
        a.on_key(code(KeyCode::Esc));
        assert_eq!(a.threads.filter, "");
        assert_eq!(a.threads.view.len(), 3);
        a.on_key(key('/'));
        a.on_key(key('2'));
        assert_eq!(a.threads.view.len(), 1);
        assert_eq!(a.selected_thread().map(|t| t.tid), Some(20));
    }

    #[test]
    fn selection_survives_refresh_by_tid() {
        let mut a = app();
        a.on_key(code(KeyCode::End));
        assert_eq!(a.selected_thread().map(|t| t.tid), Some(20));
        let mut s = snap();
        s.taken_at = 1001.0;
        s.blocked_threads.remove(0); // tid 30 gone
        a.on_snapshot(Ok(s), 1001.0);
        assert_eq!(a.selected_thread().map(|t| t.tid), Some(20));
    }

    #[test]
    fn revert_confirmation_defaults_to_no() {
        let mut a = app();
        a.on_plan(Ok(plan(ActionKind::Revert)));
        assert!(matches!(a.popup, Some(Popup::Confirm(_))));
        // Enter alone is No.
        assert_eq!(a.on_key(code(KeyCode::Enter)), Request::None);
        assert!(a.popup.is_none());
        assert!(
            a.status
                .as_ref()
                .is_some_and(|s| s.text.contains("nothing was written"))
        );
        // Other keys keep it open; y confirms.
        a.on_plan(Ok(plan(ActionKind::Revert)));
        assert_eq!(a.on_key(key('x')), Request::None);
        assert!(a.popup.is_some());
        assert_eq!(
            a.on_key(key('y')),
            Request::Execute(plan(ActionKind::Revert))
        );
        // n and Esc cancel.
        for k in [key('n'), code(KeyCode::Esc)] {
            a.on_plan(Ok(plan(ActionKind::Revert)));
            assert_eq!(a.on_key(k), Request::None);
            assert!(a.popup.is_none());
        }
    }

    #[test]
    fn force_needs_the_typed_name() {
        let mut a = app();
        a.on_plan(Ok(plan(ActionKind::Force)));
        // y is just a letter here.
        assert_eq!(a.on_key(key('y')), Request::None);
        assert_eq!(a.on_key(code(KeyCode::Enter)), Request::None);
        assert!(a.popup.is_none(), "a wrong name cancels");
        a.on_plan(Ok(plan(ActionKind::Force)));
        assert_eq!(a.on_key(code(KeyCode::Enter)), Request::None);
        assert!(a.popup.is_none(), "Enter alone is No");
        a.on_plan(Ok(plan(ActionKind::Force)));
        a.on_key(key('b'));
        assert_eq!(
            a.on_key(code(KeyCode::Enter)),
            Request::Execute(plan(ActionKind::Force))
        );
    }

    #[test]
    fn results_go_to_status_and_event_log() {
        let mut a = app();
        let p = plan(ActionKind::Revert);
        a.on_executed(
            &p,
            Ok(ControlOutcome {
                plan: p.clone(),
                message: "transition of 'b' reversed".into(),
            }),
            1000.5,
        );
        let last = a.watch.events().back().cloned();
        assert_eq!(
            last.as_ref().map(|e| e.kind),
            Some(EventKind::ControlSucceeded)
        );
        assert!(last.is_some_and(|e| {
            e.message
                .contains("write 0 to kern.livepatch.patch.b.enabled")
        }));
        assert_eq!(a.status.as_ref().map(|s| s.level), Some(Level::Success));
        a.on_executed(
            &p,
            Err(ControlError::PermissionDenied {
                target: "kern.livepatch.patch.b.enabled".into(),
            }),
            1001.0,
        );
        assert_eq!(
            a.watch.events().back().map(|e| e.kind),
            Some(EventKind::ControlFailed)
        );
        assert!(
            a.status
                .as_ref()
                .is_some_and(|s| s.text.contains("needs root"))
        );
    }

    #[test]
    fn read_only_has_no_controls() {
        let mut a = App::new(
            UiOptions {
                read_only: true,
                ..UiOptions::default()
            },
            caps(),
        );
        a.on_snapshot(Ok(snap()), 1000.0);
        for c in ['r', 'f', 's'] {
            assert_eq!(a.on_key(key(c)), Request::None);
        }
        assert!(a.status.is_none());
        assert!(!a.control_offered(ActionKind::Revert));
    }

    #[test]
    fn unsupported_control_says_so() {
        let mut a = app();
        assert_eq!(a.on_key(key('s')), Request::None);
        assert!(
            a.status
                .as_ref()
                .is_some_and(|s| s.text.contains("not supported by the sim source"))
        );
    }

    #[test]
    fn quit_keys_and_esc_closes_popup_first() {
        let mut a = app();
        a.on_key(key('?'));
        assert!(matches!(a.popup, Some(Popup::Help { .. })));
        assert_eq!(a.on_key(code(KeyCode::Esc)), Request::None);
        assert!(a.popup.is_none());
        assert_eq!(a.on_key(code(KeyCode::Esc)), Request::Quit);
        assert_eq!(a.on_key(key('q')), Request::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        a.on_plan(Ok(plan(ActionKind::Force)));
        assert_eq!(a.on_key(ctrl_c), Request::Quit);
    }

    #[test]
    fn tab_cycles_panes_and_user_choice_sticks() {
        let mut a = app();
        assert_eq!(a.focus, Pane::Threads);
        a.on_key(code(KeyCode::Tab));
        assert_eq!(a.focus, Pane::Events);
        a.on_key(code(KeyCode::BackTab));
        a.on_key(code(KeyCode::BackTab));
        assert_eq!(a.focus, Pane::Patches);
        a.on_key(key('k'));
        assert_eq!(a.selected_patch().map(|p| p.name.as_str()), Some("a"));
        let mut s = snap();
        s.taken_at = 1001.0;
        a.on_snapshot(Ok(s), 1001.0);
        assert_eq!(a.selected_patch().map(|p| p.name.as_str()), Some("a"));
    }

    #[test]
    fn read_errors_keep_the_last_snapshot() {
        let mut a = app();
        a.on_snapshot(Err("reading /sys failed".into()), 1002.0);
        assert!(a.snapshot.is_some());
        assert_eq!(a.read_error.as_deref(), Some("reading /sys failed"));
        assert_eq!(
            a.watch.events().back().map(|e| e.kind),
            Some(EventKind::SourceFailed)
        );
    }

    #[test]
    fn navigation_on_empty_state_is_safe() {
        let mut a = App::new(UiOptions::default(), caps());
        for k in [
            key('j'),
            key('k'),
            code(KeyCode::End),
            code(KeyCode::PageDown),
            code(KeyCode::Enter),
            code(KeyCode::Esc),
            key('r'),
            key('o'),
        ] {
            a.on_key(k);
        }
        a.focus = Pane::Patches;
        a.on_key(code(KeyCode::End));
        a.on_key(key('r'));
        assert!(
            a.status
                .as_ref()
                .is_some_and(|s| s.text.contains("no patch selected"))
        );
    }
}
