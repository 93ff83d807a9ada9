//! The exporter's HTTP(S) server in-process, on loopback, against the
//! simulator and against a fake source that is slow or fails on demand:
//! endpoints, single-flight reads, the scrape cap, timeouts, a failing
//! source, TLS and basic auth from a web config file.

#![allow(clippy::unwrap_used)] // tests: a failed step is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kmod_bridge::model::{Snapshot, SourceKind};
use kmod_bridge::source::sim::{self, Scenario, SimConfig};
use kmod_bridge::{Source, SourceError};
use patchscope_exporters::{Exporter, ExporterOptions, SourceOpener};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The simulator, made slow and breakable.
struct Fake {
    inner: Box<dyn Source>,
    delay: Duration,
    reads: Arc<AtomicU64>,
    fail: Arc<AtomicBool>,
    fast: Arc<AtomicBool>,
}

impl Source for Fake {
    fn kind(&self) -> SourceKind {
        SourceKind::Sim
    }
    fn location(&self) -> String {
        "fake".into()
    }
    fn capabilities(&self) -> kmod_bridge::source::Capabilities {
        kmod_bridge::source::Capabilities {
            revert: true,
            force: true,
            signal: true,
        }
    }
    // The exporter must never write to the kernel: any plan or execute
    // fails the test that made it.
    fn plan(
        &mut self,
        _: &kmod_bridge::control::ControlAction,
    ) -> Result<kmod_bridge::control::ControlPlan, kmod_bridge::control::ControlError> {
        panic!("the exporter planned a control write");
    }
    fn execute(
        &mut self,
        _: &kmod_bridge::control::ControlPlan,
    ) -> Result<kmod_bridge::control::ControlOutcome, kmod_bridge::control::ControlError> {
        panic!("the exporter executed a control write");
    }
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        if !self.fast.load(Ordering::SeqCst) {
            std::thread::sleep(self.delay);
        }
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(SourceError::parse("fake", "the test broke it"));
        }
        self.inner.snapshot()
    }
}

struct Knobs {
    reads: Arc<AtomicU64>,
    fail: Arc<AtomicBool>,
    /// Skip the delay from now on.
    fast: Arc<AtomicBool>,
    opens: Arc<AtomicU64>,
}

fn fake_opener(delay: Duration) -> (SourceOpener, Knobs) {
    let reads = Arc::new(AtomicU64::new(0));
    let fail = Arc::new(AtomicBool::new(false));
    let opens = Arc::new(AtomicU64::new(0));
    let fast = Arc::new(AtomicBool::new(false));
    let k = Knobs {
        reads: Arc::clone(&reads),
        fail: Arc::clone(&fail),
        fast: Arc::clone(&fast),
        opens: Arc::clone(&opens),
    };
    let opener: SourceOpener = Arc::new(move || {
        opens.fetch_add(1, Ordering::SeqCst);
        let inner = sim::open(SimConfig {
            scenario: Scenario::Stalled,
            threads: 200,
            ..SimConfig::default()
        })?;
        Ok(Box::new(Fake {
            inner: Box::new(inner),
            delay,
            reads: Arc::clone(&reads),
            fail: Arc::clone(&fail),
            fast: Arc::clone(&fast),
        }) as Box<dyn Source>)
    });
    (opener, k)
}

fn loopback_opts() -> ExporterOptions {
    ExporterOptions {
        listen_addresses: vec!["127.0.0.1:0".into()],
        ..ExporterOptions::default()
    }
}

/// Start an exporter; returns its address and a handle that stops it.
async fn start(
    opts: ExporterOptions,
    opener: SourceOpener,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let ex = Exporter::bind(opts, opener).await.unwrap();
    let addr = ex.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ex.serve(async {
        let _ = rx.await;
    }));
    (addr, tx)
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

async fn request_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
) -> std::io::Result<Reply> {
    use base64::Engine;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.push_str(&format!("Authorization: Basic {b}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("read timed out"))??;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Reply {
    let s = TcpStream::connect(addr).await.unwrap();
    request_on(s, "GET", path, None).await.unwrap()
}

/// The value of an unlabelled sample line.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_metrics_landing_page_and_health() {
    let (opener, _k) = fake_opener(Duration::ZERO);
    let (addr, _stop) = start(loopback_opts(), opener).await;
    let m = get(addr, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.head
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(sample(&m.body, "livepatch_scrape_success"), Some(1.0));
    assert_eq!(
        sample(&m.body, "livepatch_transition_in_progress"),
        Some(1.0)
    );
    assert!(m.body.contains("livepatch_blocked_threads{function="));
    let l = get(addr, "/").await;
    assert_eq!(l.status, 200);
    assert!(l.body.contains("href=\"/metrics\""));
    assert_eq!(get(addr, "/-/healthy").await.status, 200);
    assert_eq!(get(addr, "/-/ready").await.status, 200);
    assert_eq!(get(addr, "/nope").await.status, 404);
    let s = TcpStream::connect(addr).await.unwrap();
    let p = request_on(s, "POST", "/metrics", None).await.unwrap();
    assert_eq!(p.status, 405);
    let s = TcpStream::connect(addr).await.unwrap();
    let h = request_on(s, "HEAD", "/metrics", None).await.unwrap();
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_telemetry_path() {
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        telemetry_path: "/livepatch".into(),
        ..loopback_opts()
    };
    let (addr, _stop) = start(opts, opener).await;
    assert_eq!(get(addr, "/livepatch").await.status, 200);
    assert_eq!(get(addr, "/metrics").await.status, 404);
    assert!(get(addr, "/").await.body.contains("href=\"/livepatch\""));
    let bad = ExporterOptions {
        telemetry_path: "metrics".into(),
        ..loopback_opts()
    };
    let (opener, _k) = fake_opener(Duration::ZERO);
    let e = Exporter::bind(bad, opener).await.err().unwrap().to_string();
    assert!(e.contains("must start with '/'"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_share_one_read() {
    let (opener, k) = fake_opener(Duration::from_millis(400));
    let (addr, _stop) = start(loopback_opts(), opener).await;
    // Eight scrapes while one read is in flight: at most two reads (the
    // first, and one for scrapes that arrived just after it finished).
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(tokio::spawn(async move { get(addr, "/metrics").await }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(sample(&r.body, "livepatch_scrape_success"), Some(1.0));
    }
    let reads = k.reads.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&reads),
        "8 concurrent scrapes made {reads} reads"
    );
    // A scrape after that reads afresh: no caching across scrapes.
    get(addr, "/metrics").await;
    assert_eq!(k.reads.load(Ordering::SeqCst), reads + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_over_the_cap_get_503() {
    let (opener, _k) = fake_opener(Duration::from_millis(1500));
    let opts = ExporterOptions {
        max_requests: 1,
        ..loopback_opts()
    };
    let (addr, _stop) = start(opts, opener).await;
    let slow = tokio::spawn(async move { get(addr, "/metrics").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let over = get(addr, "/metrics").await;
    assert_eq!(over.status, 503);
    assert!(over.body.contains("--web.max-requests"), "{}", over.body);
    // Health is not a scrape: not capped.
    assert_eq!(get(addr, "/-/healthy").await.status, 200);
    assert_eq!(slow.await.unwrap().status, 200);
    // The slot is free again.
    assert_eq!(get(addr, "/metrics").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reads_time_out_with_503() {
    let (opener, k) = fake_opener(Duration::from_millis(1500));
    let opts = ExporterOptions {
        request_timeout: Duration::from_millis(300),
        ..loopback_opts()
    };
    let (addr, _stop) = start(opts, opener).await;
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("--web.request-timeout"));
    // The abandoned read finishes in the background and keeps its source:
    // the next scrape reads it again, without opening a new one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    k.fast.store(true, Ordering::SeqCst);
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(sample(&r.body, "livepatch_scrape_success"), Some(1.0));
    assert_eq!(k.opens.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_cut_off_after_the_header_timeout() {
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        read_header_timeout: Duration::from_millis(300),
        ..loopback_opts()
    };
    let (addr, _stop) = start(opts, opener).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The server closes (possibly after a 408) instead of waiting forever.
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection still open after 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_source_still_serves_metrics_and_recovers() {
    let (opener, k) = fake_opener(Duration::ZERO);
    let (addr, _stop) = start(loopback_opts(), opener).await;
    assert_eq!(
        sample(
            &get(addr, "/metrics").await.body,
            "livepatch_scrape_success"
        ),
        Some(1.0)
    );
    k.fail.store(true, Ordering::SeqCst);
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(sample(&r.body, "livepatch_scrape_success"), Some(0.0));
    assert!(r.body.contains("livepatch_exporter_build_info{"));
    assert!(
        r.body
            .contains("livepatch_exporter_events_total{kind=\"source_failed\"} 1")
    );
    assert!(!r.body.contains("livepatch_transition_in_progress"));
    let opens = k.opens.load(Ordering::SeqCst);
    k.fail.store(false, Ordering::SeqCst);
    let r = get(addr, "/metrics").await;
    assert_eq!(sample(&r.body, "livepatch_scrape_success"), Some(1.0));
    assert!(
        r.body
            .contains("livepatch_exporter_events_total{kind=\"source_recovered\"} 1")
    );
    // The failed source was dropped and opened again.
    assert_eq!(k.opens.load(Ordering::SeqCst), opens + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_that_cannot_be_opened_is_not_fatal() {
    let opener: SourceOpener =
        Arc::new(|| Err(anyhow::anyhow!("reading /nonexistent failed: No such file")));
    let (addr, _stop) = start(loopback_opts(), opener).await;
    for _ in 0..2 {
        let r = get(addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert_eq!(sample(&r.body, "livepatch_scrape_success"), Some(0.0));
    }
}

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

/// A CA and a server certificate for localhost/127.0.0.1 signed by it.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca_pem: ca_cert.pem(),
    }
}

fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn tls_get(
    addr: std::net::SocketAddr,
    conn: &tokio_rustls::TlsConnector,
    path: &str,
    auth: Option<(&str, &str)>,
) -> std::io::Result<Reply> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let s = conn.connect(name, tcp).await?;
    request_on(s, "GET", path, auth).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_from_the_web_config_file() {
    let p = pki();
    let hash = bcrypt::hash("right horse", 4).unwrap();
    let web = p.dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\nbasic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    )
    .unwrap();
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        web_config_file: Some(web),
        ..loopback_opts()
    };
    let (addr, _stop) = start(opts, opener).await;
    let conn = tls_connector(&p.ca_pem);

    let ok = tls_get(addr, &conn, "/metrics", Some(("prometheus", "right horse")))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(sample(&ok.body, "livepatch_scrape_success"), Some(1.0));
    assert!(
        ok.head
            .to_ascii_lowercase()
            .contains("x-content-type-options: nosniff")
    );

    for auth in [
        Some(("prometheus", "wrong horse")),
        Some(("someone", "right horse")),
        None,
    ] {
        let r = tls_get(addr, &conn, "/metrics", auth).await.unwrap();
        assert_eq!(r.status, 401, "{auth:?}");
        assert!(
            r.head.contains("WWW-Authenticate: Basic")
                || r.head.contains("www-authenticate: Basic")
        );
        assert!(!r.body.contains("livepatch_"));
    }
    // Health and landing page are behind auth too.
    assert_eq!(
        tls_get(addr, &conn, "/-/healthy", None)
            .await
            .unwrap()
            .status,
        401
    );
    // Plain HTTP to the TLS port gets no metrics.
    let plain = TcpStream::connect(addr).await.unwrap();
    let r = request_on(
        plain,
        "GET",
        "/metrics",
        Some(("prometheus", "right horse")),
    )
    .await;
    assert!(r.map(|r| !r.body.contains("livepatch_")).unwrap_or(true));
    // A client that does not trust the CA fails the handshake.
    let other = pki();
    assert!(
        tls_get(addr, &tls_connector(&other.ca_pem), "/metrics", None)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_web_config_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "basic_auth_users:\n  prometheus: plaintext-password\n",
    )
    .unwrap();
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        web_config_file: Some(web),
        ..loopback_opts()
    };
    let e = Exporter::bind(opts, opener)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("web.yml") && e.contains("bcrypt"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listens_on_several_addresses_and_reports_busy_ports() {
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        listen_addresses: vec!["127.0.0.1:0".into(), "localhost:0".into()],
        ..ExporterOptions::default()
    };
    let ex = Exporter::bind(opts, opener).await.unwrap();
    let addrs = ex.local_addrs();
    assert_eq!(addrs.len(), 2);
    let busy = addrs[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ex.serve(async {
        let _ = rx.await;
    }));
    for a in &addrs {
        assert_eq!(get(*a, "/-/healthy").await.status, 200);
    }
    let (opener, _k) = fake_opener(Duration::ZERO);
    let opts = ExporterOptions {
        listen_addresses: vec![busy.to_string()],
        ..ExporterOptions::default()
    };
    let e = Exporter::bind(opts, opener)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--web.listen-address"), "{e}");
    let opts = ExporterOptions {
        listen_addresses: vec![":notaport".into()],
        ..ExporterOptions::default()
    };
    let (opener, _k) = fake_opener(Duration::ZERO);
    assert!(Exporter::bind(opts, opener).await.is_err());
    let _ = tx.send(());
}
