//! The HTTP(S) server: node_exporter's endpoints and flags.
//!
//! * the telemetry path (`/metrics`): one source read per burst of
//!   scrapes ([`crate::scrape`]), at most `max_requests` at once (503
//!   beyond, as node_exporter's `--web.max-requests`);
//! * `/`: a landing page linking the metrics (unless the telemetry path is
//!   `/`);
//! * `/-/healthy` and `/-/ready`: 200 while the server runs;
//! * everything behind the web config file's TLS and basic auth.
//!
//! Slow clients are cut off: request headers (and the TLS handshake) must
//! arrive within `read_header_timeout`, and a whole request must be served
//! within `request_timeout` (503 after that, like Go's `TimeoutHandler`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use kmod_bridge::watch::WatchConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::collector::CollectorOptions;
use crate::log;
use crate::scrape::{Scraper, SourceOpener};
use crate::webconfig::{self, AuthOutcome, WebConfig, WebConfigError};

/// Default `--web.listen-address`: every interface, port 9749.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":9749";
/// Default `--web.telemetry-path`.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
/// Default `--web.max-requests`.
pub const DEFAULT_MAX_REQUESTS: usize = 40;
/// Default `--web.read-header-timeout`.
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--web.request-timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Content type of the text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything the exporter is configured with.
#[derive(Debug, Clone)]
pub struct ExporterOptions {
    /// `--web.listen-address`, repeatable: `:PORT` (every interface),
    /// `HOST:PORT`, `[V6]:PORT`.
    pub listen_addresses: Vec<String>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--web.config.file`.
    pub web_config_file: Option<PathBuf>,
    /// `--web.max-requests`: concurrent scrapes; 0 means no limit.
    pub max_requests: usize,
    /// `--web.read-header-timeout`.
    pub read_header_timeout: Duration,
    /// `--web.request-timeout`.
    pub request_timeout: Duration,
    /// Collector options.
    pub collector: CollectorOptions,
    /// The stall verdict's tuning (`--watch.stall-after`).
    pub watch: WatchConfig,
}

impl Default for ExporterOptions {
    fn default() -> Self {
        Self {
            listen_addresses: vec![DEFAULT_LISTEN_ADDRESS.to_string()],
            telemetry_path: DEFAULT_TELEMETRY_PATH.to_string(),
            web_config_file: None,
            max_requests: DEFAULT_MAX_REQUESTS,
            read_header_timeout: DEFAULT_READ_HEADER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            collector: CollectorOptions::default(),
            watch: WatchConfig::default(),
        }
    }
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The web config file is unusable.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// A listen address is malformed or does not resolve.
    #[error("--web.listen-address {address:?}: {why}")]
    BadAddress {
        /// The address given.
        address: String,
        /// What is wrong.
        why: String,
    },
    /// Binding failed.
    #[error(
        "listening on {address} failed: {source} (is another process using the port? pick another with --web.listen-address)"
    )]
    Listen {
        /// The address.
        address: String,
        /// The error.
        source: std::io::Error,
    },
    /// The telemetry path is unusable.
    #[error("--web.telemetry-path {path:?}: {why}")]
    BadPath {
        /// The path given.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// No listen address was given.
    #[error("no --web.listen-address given")]
    NoAddress,
}

struct AppState {
    scraper: Scraper,
    web: Arc<WebConfig>,
    telemetry_path: String,
    cap: Option<Arc<Semaphore>>,
    max_requests: usize,
    read_header_timeout: Duration,
    request_timeout: Duration,
    landing: Bytes,
    /// One bcrypt check at a time (see [`route`]).
    bcrypt_gate: Semaphore,
}

/// A bound, not yet serving, exporter.
pub struct Exporter {
    listeners: Vec<(TcpListener, SocketAddr)>,
    state: Arc<AppState>,
}

impl Exporter {
    /// Load the web config, bind every listen address and open the source
    /// (a source that cannot be opened is logged, not fatal: scrapes report
    /// it in `livepatch_scrape_success` until it works).
    pub async fn bind(opts: ExporterOptions, opener: SourceOpener) -> Result<Self, ExporterError> {
        let path = opts.telemetry_path.clone();
        if !path.starts_with('/') {
            return Err(ExporterError::BadPath {
                path,
                why: "must start with '/'".into(),
            });
        }
        if path.starts_with("/-/") {
            return Err(ExporterError::BadPath {
                path,
                why: "/-/ is reserved for the health endpoints".into(),
            });
        }
        let web = match &opts.web_config_file {
            Some(p) => webconfig::load(p)?,
            None => WebConfig::default(),
        };
        if opts.listen_addresses.is_empty() {
            return Err(ExporterError::NoAddress);
        }
        let mut listeners = Vec::new();
        for a in &opts.listen_addresses {
            let l = bind_one(a).await?;
            let local = l.local_addr().map_err(|source| ExporterError::Listen {
                address: a.clone(),
                source,
            })?;
            listeners.push((l, local));
        }
        let scraper = Scraper::new(opener, opts.collector, opts.watch);
        let state = Arc::new(AppState {
            scraper,
            landing: Bytes::from(landing_page(&path)),
            telemetry_path: path,
            cap: (opts.max_requests > 0).then(|| Arc::new(Semaphore::new(opts.max_requests))),
            max_requests: opts.max_requests,
            web: Arc::new(web),
            read_header_timeout: opts.read_header_timeout,
            request_timeout: opts.request_timeout,
            bcrypt_gate: Semaphore::new(1),
        });
        Ok(Self { listeners, state })
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|(_, a)| *a).collect()
    }

    /// Serve until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ExporterError> {
        let tls = self.state.web.tls.is_some();
        let auth = !self.state.web.users.is_empty();
        let mut tasks = Vec::new();
        for (l, addr) in self.listeners {
            log::info(
                "listening",
                &[
                    ("address", &addr.to_string()),
                    ("tls", if tls { "true" } else { "false" }),
                    ("basic_auth", if auth { "true" } else { "false" }),
                    ("telemetry_path", &self.state.telemetry_path),
                ],
            );
            tasks.push(tokio::spawn(accept_loop(l, Arc::clone(&self.state))));
        }
        shutdown.await;
        log::info("shutting down", &[]);
        for t in tasks {
            t.abort();
        }
        Ok(())
    }
}

/// Run the exporter until SIGINT or SIGTERM, on its own tokio runtime.
pub fn run(opts: ExporterOptions, opener: SourceOpener) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("patchscope-exporter")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        log::info(
            "starting patchscope exporter",
            &[("version", env!("CARGO_PKG_VERSION"))],
        );
        let ex = Exporter::bind(opts, opener).await?;
        ex.state.scraper.prime().await;
        ex.serve(shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Bind one `--web.listen-address`.
async fn bind_one(address: &str) -> Result<TcpListener, ExporterError> {
    let bad = |why: String| ExporterError::BadAddress {
        address: address.to_string(),
        why,
    };
    let listen_err = |source| ExporterError::Listen {
        address: address.to_string(),
        source,
    };
    if let Some(port) = address.strip_prefix(':') {
        // Go's ":PORT": every interface, IPv6 and IPv4 on one socket where
        // the system has IPv6, else IPv4 only.
        let port: u16 = port
            .parse()
            .map_err(|_| bad(format!("{port:?} is not a port number")))?;
        match listen_socket(SocketAddr::from(([0u16; 8], port)), true) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(listen_err(e)),
            Err(_) => {}
        }
        return listen_socket(SocketAddr::from(([0u8; 4], port)), false).map_err(listen_err);
    }
    let mut addrs = tokio::net::lookup_host(address)
        .await
        .map_err(|e| bad(format!("{e} (use HOST:PORT, [IPV6]:PORT or :PORT)")))?;
    let first = addrs
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))?;
    listen_socket(first, false).map_err(listen_err)
}

fn listen_socket(addr: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if dual_stack {
        sock.set_only_v6(false)?;
    }
    // As Go does: a restarted exporter can bind while old connections linger.
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

async fn accept_loop(l: TcpListener, state: Arc<AppState>) {
    loop {
        let (tcp, _peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off, go on.
                log::warn("accepting a connection failed", &[("err", &e.to_string())]);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            match state.web.tls.clone() {
                Some(cfg) => {
                    let deadline = tokio::time::Instant::now() + state.read_header_timeout;
                    if plain_http_on_tls(&tcp, deadline).await {
                        // As Go's server: say why, then close.
                        let mut tcp = tcp;
                        let _ = tokio::time::timeout_at(
                            deadline,
                            tokio::io::AsyncWriteExt::write_all(&mut tcp, PLAIN_HTTP_ON_TLS),
                        )
                        .await;
                        return;
                    }
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                    // Failed or slow handshakes are the client's problem
                    // (Go logs them at debug level only): just close.
                    if let Ok(Ok(s)) = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await
                    {
                        serve_conn(s, state).await;
                    }
                }
                None => serve_conn(tcp, state).await,
            }
        });
    }
}

/// The answer to plain HTTP on a TLS port, as Go's `net/http` gives it.
const PLAIN_HTTP_ON_TLS: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether a connection to the TLS port starts like plain HTTP (a method
/// name) rather than a TLS record (first byte 0x16). Waits for the first
/// byte until `deadline`; a silent or closed connection is not HTTP.
async fn plain_http_on_tls(tcp: &tokio::net::TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await;
    let [b] = first;
    matches!(peeked, Ok(Ok(1))) && b.is_ascii_uppercase()
}

async fn serve_conn<I>(io: I, state: Arc<AppState>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let st = Arc::clone(&state);
    let svc = hyper::service::service_fn(move |req| handle(Arc::clone(&st), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(state.read_header_timeout)
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

type Resp = Response<Full<Bytes>>;

async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let arrived = Instant::now();
    let mut resp =
        match tokio::time::timeout(state.request_timeout, route(&state, req, arrived)).await {
            Ok(r) => r,
            Err(_) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "request timed out after {} (--web.request-timeout)\n",
                    humantime::format_duration(state.request_timeout)
                ),
            ),
        };
    for (k, v) in &state.web.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

async fn route(state: &AppState, req: Request<Incoming>, arrived: Instant) -> Resp {
    let path = req.uri().path().to_string();
    let is_metrics = path == state.telemetry_path;
    // Taken before authentication so that a flood of requests cannot make
    // the exporter run unbounded bcrypt checks on the telemetry path.
    let _permit = if is_metrics {
        match &state.cap {
            Some(sem) => match Arc::clone(sem).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    return text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "too many concurrent scrapes (limit {}, --web.max-requests)\n",
                            state.max_requests
                        ),
                    );
                }
            },
            None => None,
        }
    } else {
        None
    };
    if !state.web.users.is_empty() {
        let web = Arc::clone(&state.web);
        let h = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let outcome = match web.check_auth_cached(h.as_deref()) {
            Some(o) => o,
            None => {
                // bcrypt is slow on purpose. One check at a time, as
                // exporter-toolkit does: a flood of guesses costs one CPU
                // and waits in line here, not in tokio's blocking pool
                // where source reads run; a scraper whose login succeeded
                // before is answered from the cache and never waits.
                let _turn = state.bcrypt_gate.acquire().await;
                tokio::task::spawn_blocking(move || web.check_auth(h.as_deref()))
                    .await
                    .unwrap_or(AuthOutcome::Denied)
            }
        };
        if outcome == AuthOutcome::Denied {
            let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n".into());
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"patchscope\""),
            );
            return r;
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n".into(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if is_metrics {
        let rendered = state.scraper.scrape(arrived).await;
        let mut r = Response::new(Full::new(Bytes::from(rendered.body.clone())));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(METRICS_CONTENT_TYPE),
        );
        return r;
    }
    match path.as_str() {
        "/" => {
            let mut r = Response::new(Full::new(state.landing.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        "/-/healthy" => text(StatusCode::OK, "Healthy\n".into()),
        "/-/ready" => text(StatusCode::OK, "Ready\n".into()),
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn landing_page(telemetry_path: &str) -> String {
    let p = html_escape(telemetry_path);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>patchscope exporter</title></head>\n<body>\n<h1>patchscope exporter</h1>\n<p>Kernel live-patch state (patches, transition progress, blocked threads) for Prometheus. Version {}.</p>\n<ul>\n<li><a href=\"{p}\">Metrics</a> ({p})</li>\n<li><a href=\"/-/healthy\">Health</a></li>\n</ul>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_page_links_escaped_path() {
        let p = landing_page("/m<x>\"");
        assert!(p.contains("href=\"/m&lt;x&gt;&quot;\""));
        assert!(!p.contains("<x>"));
    }
}
