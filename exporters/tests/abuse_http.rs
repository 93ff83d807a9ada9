//! The exporter's HTTP server under abuse, in-process on loopback against
//! the simulator: clients that never finish their headers, hundreds of
//! idle connections, oversized headers and paths, unknown methods and
//! paths, malformed and conflicting requests, wrong or malformed basic
//! auth (also as a flood), plain HTTP and silence on the TLS port. Each
//! gets a bounded answer (a status, or the connection closed within the
//! header timeout), and real scrapes keep working throughout.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

#[path = "../../tests/support/exposition.rs"]
mod exposition;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmod_bridge::Source;
use kmod_bridge::source::sim::{self, Scenario, SimConfig};
use patchscope_exporters::{Exporter, ExporterOptions, SourceOpener};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The header timeout of these tests: what "bounded" means for a client
/// that never finishes its request.
const HEADER_TIMEOUT: Duration = Duration::from_millis(800);

fn sim_opener() -> SourceOpener {
    Arc::new(|| {
        Ok(Box::new(sim::open(SimConfig {
            scenario: Scenario::Stalled,
            ..SimConfig::default()
        })?) as Box<dyn Source>)
    })
}

async fn start(
    web_config: Option<std::path::PathBuf>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let opts = ExporterOptions {
        listen_addresses: vec!["127.0.0.1:0".into()],
        web_config_file: web_config,
        read_header_timeout: HEADER_TIMEOUT,
        ..ExporterOptions::default()
    };
    let ex = Exporter::bind(opts, sim_opener()).await.unwrap();
    let addr = ex.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ex.serve(async {
        let _ = rx.await;
    }));
    (addr, tx)
}

#[derive(Debug)]
struct Answer {
    /// 0: no HTTP answer, the connection was closed.
    status: u16,
    head: String,
    body: Vec<u8>,
    took: Duration,
}

/// Send `bytes` on `s` (write errors ignored: the server may close
/// early) and read until the server closes, at most 10 s.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, bytes: &[u8]) -> Answer {
    let t0 = Instant::now();
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 16384];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the server kept the connection open for 10 s");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let body = buf.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head,
        body,
        took: t0.elapsed(),
    }
}

async fn raw(addr: SocketAddr, bytes: &[u8]) -> Answer {
    exchange(TcpStream::connect(addr).await.unwrap(), bytes).await
}

fn get_req(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n")
        .into_bytes()
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A real scrape: 200, valid exposition, a successful read, in time.
async fn assert_scrape_works(addr: SocketAddr, extra: &str) -> Duration {
    let a = raw(addr, &get_req("/metrics", extra)).await;
    assert_eq!(a.status, 200, "{}", a.head);
    let text = String::from_utf8(a.body).unwrap();
    let e = exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(e.value("livepatch_scrape_success"), Some(1.0));
    assert!(a.took < Duration::from_secs(5), "scrape took {:?}", a.took);
    a.took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_never_finishing_headers_are_cut_off() {
    let (addr, _stop) = start(None).await;
    assert_scrape_works(addr, "").await;
    // 50 clients send a request line, then one header byte every 100 ms,
    // forever (slowloris).
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let t0 = Instant::now();
            let _ = s
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if s.write_all(b"a").await.is_err() {
                    break;
                }
                let mut b = [0u8; 256];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => break, // an answer (408): the server is done with it
                    Err(_) => {}
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    break;
                }
            }
            t0.elapsed()
        }));
    }
    // Real scrapes are served meanwhile.
    for _ in 0..5 {
        assert_scrape_works(addr, "").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in slow {
        let held = h.await.unwrap();
        assert!(
            held < HEADER_TIMEOUT + Duration::from_secs(2),
            "a slow client held its connection for {held:?}"
        );
    }
    assert_scrape_works(addr, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_idle_connections_are_closed_and_do_not_block_scrapes() {
    let (addr, _stop) = start(None).await;
    let mut idle = Vec::new();
    for _ in 0..400 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let took = assert_scrape_works(addr, "").await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Each idle connection is closed by the server after the timeout.
    let t0 = Instant::now();
    for mut s in idle {
        let mut b = [0u8; 64];
        let left = (HEADER_TIMEOUT + Duration::from_secs(3)).saturating_sub(t0.elapsed());
        match tokio::time::timeout(left.max(Duration::from_millis(1)), s.read(&mut b)).await {
            Ok(_) => {}
            Err(_) => panic!("an idle connection is still open after {:?}", t0.elapsed()),
        }
    }
    // Keep-alive connections that went idle after a request are closed too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 1024];
    let n = s.read(&mut b).await.unwrap();
    assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    println!("idle keep-alive connection closed after {:?}", t0.elapsed());
    assert!(r.is_ok(), "an idle keep-alive connection stays open");
    assert_scrape_works(addr, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_and_paths_get_bounded_answers() {
    let (addr, _stop) = start(None).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "one 1 MiB header",
            get_req("/metrics", &format!("X-Big: {}\r\n", "a".repeat(1 << 20))),
        ),
        (
            "2000 headers",
            get_req("/metrics", &"X-Many: 1\r\n".repeat(2000)),
        ),
        (
            "a 64 KiB path",
            get_req(&format!("/{}", "p".repeat(64 * 1024)), ""),
        ),
        (
            "a 1 MiB path",
            get_req(&format!("/{}", "p".repeat(1 << 20)), ""),
        ),
        (
            "a 1 MiB Authorization header",
            get_req(
                "/metrics",
                &format!("Authorization: Basic {}\r\n", "A".repeat(1 << 20)),
            ),
        ),
        (
            "8 MiB without a line end",
            [b"GET /".as_slice(), &vec![b'x'; 8 << 20]].concat(),
        ),
    ];
    for (what, req) in cases {
        let a = raw(addr, &req).await;
        assert!(
            matches!(a.status, 0 | 400 | 404 | 414 | 431),
            "{what}: {}",
            a.head
        );
        assert!(
            a.body.len() < 4096,
            "{what}: a {} byte answer",
            a.body.len()
        );
        assert!(a.took < Duration::from_secs(5), "{what}: took {:?}", a.took);
        println!("{what}: status {} in {:?}", a.status, a.took);
        assert_scrape_works(addr, "").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_paths_and_malformed_requests() {
    let (addr, _stop) = start(None).await;
    for method in [
        "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "PROPFIND",
    ] {
        let req = format!(
            "{method} /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody"
        );
        let a = raw(addr, req.as_bytes()).await;
        assert_eq!(a.status, 405, "{method}: {}", a.head);
        assert!(
            a.head.to_ascii_lowercase().contains("allow: get, head"),
            "{method}"
        );
        assert!(!String::from_utf8_lossy(&a.body).contains("livepatch_"));
    }
    // A huge declared body is not read: 405 at once.
    let a = raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 405);
    assert!(a.took < Duration::from_secs(3), "{:?}", a.took);
    for path in [
        "/nope",
        "/metrics/",
        "/metricsx",
        "//metrics",
        "/METRICS",
        "/%6detrics",
        "/../metrics",
        "/-/",
        "/metrics%00",
        "/\u{1b}[2J",
    ] {
        let a = raw(addr, &get_req(path, "")).await;
        assert!(matches!(a.status, 400 | 404), "{path:?}: {}", a.head);
        assert!(
            !String::from_utf8_lossy(&a.body).contains("livepatch_"),
            "{path:?}"
        );
    }
    let malformed: &[(&str, &[u8])] = &[
        ("binary garbage", b"\x00\x01\x02\xff\xfe\r\n\r\n"),
        ("no version", b"GET /metrics\r\n\r\n"),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("HTTP/9.9", b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n"),
        (
            "conflicting lengths",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
        ),
        (
            "length and chunked",
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        ("header without colon", b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n"),
        ("bare LF and NUL in a header", b"GET /metrics HTTP/1.1\nX: a\x00b\n\n"),
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("absolute URI elsewhere", b"GET http://example.com/metrics HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"),
    ];
    for (what, req) in malformed {
        let a = raw(addr, req).await;
        assert!(
            a.status == 0 || (400..600).contains(&a.status) || a.status == 200,
            "{what}: {}",
            a.head
        );
        if a.status == 200 {
            // Only a request hyper accepts as a GET of /metrics may scrape.
            assert_eq!(*what, "absolute URI elsewhere", "{what}: {}", a.head);
        }
        assert!(
            a.took < HEADER_TIMEOUT + Duration::from_secs(2),
            "{what}: {:?}",
            a.took
        );
        println!("{what}: status {} in {:?}", a.status, a.took);
    }
    // HEAD gets headers only; a pipelined pair is answered in order.
    let a = raw(
        addr,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.is_empty());
    let a = raw(
        addr,
        b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nGET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let all = format!("{}{}", a.head, String::from_utf8_lossy(&a.body));
    assert!(all.contains("Healthy") && all.contains("Ready"), "{all}");
    assert_scrape_works(addr, "").await;
}

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

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

async fn tls(addr: SocketAddr, conn: &tokio_rustls::TlsConnector, req: &[u8]) -> Answer {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let s = conn.connect(name, tcp).await.unwrap();
    exchange(s, req).await
}

/// A web config with TLS and one user, `prometheus` / `right horse`, whose
/// hash has the given bcrypt cost.
fn web_config(p: &Pki, tls: bool, cost: u32) -> std::path::PathBuf {
    let hash = bcrypt::hash("right horse", cost).unwrap();
    let web = p.dir.path().join("web.yml");
    let tls = if tls {
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    } else {
        ""
    };
    std::fs::write(
        &web,
        format!("{tls}basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    web
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_malformed_credentials_get_401() {
    let p = pki();
    let (addr, _stop) = start(Some(web_config(&p, true, 4))).await;
    let conn = tls_connector(&p.ca_pem);
    let ok = tls(
        addr,
        &conn,
        &get_req("/metrics", &basic("prometheus", "right horse")),
    )
    .await;
    assert_eq!(ok.status, 200);
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let cases: Vec<(&str, String)> = vec![
        ("no credentials", String::new()),
        ("wrong password", basic("prometheus", "wrong horse")),
        ("unknown user", basic("root", "right horse")),
        ("empty user and password", basic("", "")),
        (
            "no colon",
            format!("Authorization: Basic {}\r\n", b64(b"prometheus")),
        ),
        (
            "not base64",
            "Authorization: Basic %%%not-base64%%%\r\n".into(),
        ),
        (
            "not UTF-8",
            format!("Authorization: Basic {}\r\n", b64(b"prometheus:\xff\xfe")),
        ),
        (
            "other scheme",
            "Authorization: Bearer right horse\r\n".into(),
        ),
        ("scheme only", "Authorization: Basic\r\n".into()),
        (
            "two headers",
            format!("{}{}", basic("x", "y"), basic("prometheus", "right horse")),
        ),
        ("password with a NUL", basic("prometheus", "right horse\0")),
        (
            "a 64 KiB password",
            basic("prometheus", &"p".repeat(64 * 1024)),
        ),
    ];
    for (what, h) in cases {
        for path in ["/metrics", "/", "/-/healthy", "/nope"] {
            let a = tls(addr, &conn, &get_req(path, &h)).await;
            assert!(
                a.status == 401 || (what == "a 64 KiB password" && a.status == 431),
                "{what} on {path}: {}",
                a.head
            );
            if a.status == 401 {
                assert!(
                    a.head
                        .to_ascii_lowercase()
                        .contains("www-authenticate: basic"),
                    "{what}"
                );
            }
            assert!(
                !String::from_utf8_lossy(&a.body).contains("livepatch_"),
                "{what}"
            );
        }
    }
    let ok = tls(
        addr,
        &conn,
        &get_req("/metrics", &basic("prometheus", "right horse")),
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_silence_on_the_tls_port() {
    let p = pki();
    let (addr, _stop) = start(Some(web_config(&p, true, 4))).await;
    let conn = tls_connector(&p.ca_pem);
    // Plain HTTP: a 400 that says why (as Go's server answers), or at
    // least a prompt close; never metrics.
    let a = raw(
        addr,
        &get_req("/metrics", &basic("prometheus", "right horse")),
    )
    .await;
    println!(
        "plain HTTP to the TLS port: status {} in {:?}: {}",
        a.status, a.took, a.head
    );
    assert!(a.took < Duration::from_secs(2), "{:?}", a.took);
    assert!(!String::from_utf8_lossy(&a.body).contains("livepatch_"));
    assert_eq!(a.status, 400, "{}", a.head);
    assert!(
        String::from_utf8_lossy(&a.body).contains("HTTP request to an HTTPS server"),
        "{a:?}"
    );
    // TLS garbage and a handshake that never comes: closed in time.
    let a = raw(addr, b"\x16\x03\x01\x00\x05hello-garbage").await;
    assert_eq!(a.status, 0);
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut b = [0u8; 16];
    let r = tokio::time::timeout(HEADER_TIMEOUT + Duration::from_secs(2), s.read(&mut b)).await;
    assert!(
        r.is_ok(),
        "a silent TLS client is still connected after {:?}",
        t0.elapsed()
    );
    // Real TLS scrapes keep working.
    let ok = tls(
        addr,
        &conn,
        &get_req("/metrics", &basic("prometheus", "right horse")),
    )
    .await;
    assert_eq!(ok.status, 200);
}

/// A flood of requests with wrong passwords must not starve real scrapes:
/// bcrypt is slow on purpose, and the exporter must not run one check per
/// request in parallel without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_flood_does_not_starve_real_scrapes() {
    let p = pki();
    // Cost 8: slow enough that unbounded parallel checks would saturate
    // the CPUs of a test machine, fast enough for a debug build.
    let (addr, _stop) = start(Some(web_config(&p, false, 8))).await;
    let good = basic("prometheus", "right horse");
    let t0 = Instant::now();
    assert_scrape_works(addr, &good).await;
    let one_check = t0.elapsed();
    println!("one scrape with a bcrypt check: {one_check:?}");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for i in 0..64 {
        let stop = Arc::clone(&stop);
        flood.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = ["/", "/-/healthy", "/nope", "/metrics"][i % 4];
                let a = raw(
                    addr,
                    &get_req(path, &basic("prometheus", &format!("guess{n}"))),
                )
                .await;
                assert!(matches!(a.status, 401 | 503), "{}", a.head);
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        worst = worst.max(assert_scrape_works(addr, &good).await);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut guesses = 0;
    for f in flood {
        guesses += f.await.unwrap();
    }
    println!("{guesses} wrong guesses; slowest real scrape during the flood: {worst:?}");
    assert!(
        worst < Duration::from_secs(2).max(one_check * 4),
        "a real scrape took {worst:?} during the flood (one check: {one_check:?})"
    );
}

/// Effective uid of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// The exporter needs no privilege to serve: when the tests run as root,
/// every test of this file runs again as uid/gid 65534 (nobody).
#[test]
fn every_abuse_test_passes_as_nobody() {
    use std::os::unix::process::CommandExt;
    const CHILD: &str = "PATCHSCOPE_ABUSE_AS_NOBODY";
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    if euid() != 0 {
        println!("skipped: not root, the other tests already ran unprivileged");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--skip",
            "every_abuse_test_passes_as_nobody",
            "--test-threads=2",
        ])
        .env(CHILD, "1")
        .env("TMPDIR", "/tmp")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "as uid 65534:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok."), "{stdout}");
    println!("ran the abuse tests as uid 65534:\n{stdout}");
}
