//! One read of the kernel per burst of scrapes.
//!
//! The [`Scraper`] owns the source and the exporter's [`Watch`]. A scrape
//! takes the lock, and if a read finished after the scrape arrived (it was
//! in flight, or it started meanwhile) the scrape reuses its rendered body
//! instead of reading again: N concurrent scrapes cause one read of the
//! kernel (single flight), while a scrape that arrives after a read always
//! gets a fresh one, as the exporter guidelines ask (no caching across
//! scrapes).
//!
//! Reads run on tokio's blocking pool: sources do file and sysctl I/O and
//! a simulated kernel of a million threads takes a while. The source sits
//! behind its own lock, not inside the read's future, so a scrape that
//! times out and is dropped mid-read loses nothing: the read finishes, the
//! source stays open, and the next scrape waits for it. A source whose
//! read failed is dropped and opened again on the next scrape, so a dump
//! file that comes back, or a sysfs that reappears, recovers by itself.

use std::sync::Arc;
use std::time::Instant;

use kmod_bridge::Source;
use kmod_bridge::source::unix_now;
use kmod_bridge::watch::{Watch, WatchConfig};
use tokio::sync::Mutex;

use crate::collector::{self, CollectorOptions, EventCounts, Inputs, ScrapeMeta};
use crate::log;

/// Opens the source; called at the first scrape and after a failed read.
pub type SourceOpener = Arc<dyn Fn() -> anyhow::Result<Box<dyn Source>> + Send + Sync>;

/// The result of one read, rendered.
#[derive(Debug)]
pub struct Rendered {
    /// The metrics in text format.
    pub body: String,
    /// Whether the source read succeeded.
    pub success: bool,
    /// When the read finished.
    pub finished: Instant,
}

type SharedSource = Arc<std::sync::Mutex<Option<Box<dyn Source>>>>;

struct Inner {
    watch: Watch,
    events: EventCounts,
    last: Option<Arc<Rendered>>,
    /// Reads done, for tests of the single flight.
    reads: u64,
}

/// Reads the source on demand, one read at a time, and renders metrics.
pub struct Scraper {
    opener: SourceOpener,
    source: SharedSource,
    options: CollectorOptions,
    inner: Mutex<Inner>,
}

impl Scraper {
    /// A scraper that opens its source lazily with `opener`.
    pub fn new(opener: SourceOpener, options: CollectorOptions, watch: WatchConfig) -> Self {
        Self {
            opener,
            options,
            source: Arc::new(std::sync::Mutex::new(None)),
            inner: Mutex::new(Inner {
                watch: Watch::new(watch),
                events: EventCounts::default(),
                last: None,
                reads: 0,
            }),
        }
    }

    /// Metrics for a scrape that arrived at `arrived`.
    pub async fn scrape(&self, arrived: Instant) -> Arc<Rendered> {
        let mut g = self.inner.lock().await;
        if let Some(last) = &g.last
            && last.finished >= arrived
        {
            return Arc::clone(last);
        }
        let started = Instant::now();
        let shared = Arc::clone(&self.source);
        let opener = Arc::clone(&self.opener);
        let joined = tokio::task::spawn_blocking(move || {
            let mut slot = lock_source(&shared);
            let src = match slot.as_mut() {
                Some(s) => s,
                None => match opener() {
                    Ok(s) => slot.insert(s),
                    Err(e) => return Err(format!("opening the source failed: {e:#}")),
                },
            };
            let r = src.snapshot().map_err(|e| {
                format!(
                    "reading the {} source at {} failed: {e}",
                    src.kind(),
                    src.location()
                )
            });
            if r.is_err() {
                // Drop the source: the next scrape opens it again.
                *slot = None;
            }
            r
        })
        .await;
        let duration = started.elapsed().as_secs_f64();
        let result = match joined {
            Ok(r) => r,
            Err(e) => {
                // The source panicked: never reuse it.
                *lock_source(&self.source) = None;
                Err(format!("reading the source panicked: {e}"))
            }
        };
        g.reads += 1;
        let inner = &mut *g;
        let (snapshot, success) = match result {
            Ok(snap) => {
                inner.watch.observe(&snap);
                inner.events.sync(&inner.watch);
                (Some(snap), true)
            }
            Err(msg) => {
                log::warn("scrape failed", &[("err", &msg)]);
                inner.watch.observe_error(unix_now(), &msg);
                inner.events.sync(&inner.watch);
                (None, false)
            }
        };
        let fams = collector::families(&Inputs {
            snapshot: snapshot.as_ref(),
            watch: Some(&inner.watch),
            events: Some(&inner.events),
            scrape: ScrapeMeta {
                success,
                duration_seconds: Some(duration),
            },
            options: self.options,
        });
        let body = match collector::encode(&fams) {
            Ok(b) => b,
            Err(e) => {
                log::error("encoding metrics failed", &[("err", &e.to_string())]);
                format!(
                    "# patchscope: encoding metrics failed: {}\n",
                    e.to_string().replace('\n', " ")
                )
            }
        };
        let r = Arc::new(Rendered {
            body,
            success,
            finished: Instant::now(),
        });
        inner.last = Some(Arc::clone(&r));
        r
    }

    /// Open the source now, so that a source that cannot be opened shows
    /// in the log at start-up rather than at the first scrape.
    pub async fn prime(&self) {
        let shared = Arc::clone(&self.source);
        let opener = Arc::clone(&self.opener);
        let r = tokio::task::spawn_blocking(move || {
            let mut slot = lock_source(&shared);
            if let Some(s) = slot.as_ref() {
                return Ok((s.kind(), s.location()));
            }
            let s = opener()?;
            let info = (s.kind(), s.location());
            *slot = Some(s);
            Ok::<_, anyhow::Error>(info)
        })
        .await;
        match r {
            Ok(Ok((kind, location))) => log::info(
                "source opened",
                &[("source", kind.as_str()), ("location", &location)],
            ),
            Ok(Err(e)) => log::warn(
                "opening the source failed; scrapes report livepatch_scrape_success 0 until it works",
                &[("err", &format!("{e:#}"))],
            ),
            Err(e) => log::warn("opening the source panicked", &[("err", &e.to_string())]),
        }
    }

    /// Number of source reads so far.
    pub async fn reads(&self) -> u64 {
        self.inner.lock().await.reads
    }
}

/// The source slot; a poisoned lock (a read panicked) is taken over, and
/// the panicking path has emptied the slot.
fn lock_source(
    s: &std::sync::Mutex<Option<Box<dyn Source>>>,
) -> std::sync::MutexGuard<'_, Option<Box<dyn Source>>> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}
