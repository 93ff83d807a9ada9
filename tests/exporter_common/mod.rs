//! Shared helpers of the exporter's end-to-end tests: the real
//! `patchscope` binary, Prometheus and promtool from Debian's package
//! (extracted by `tests/vm/setup prometheus`), a small HTTP/1.1 client.
//! Everything stays on loopback, and every wait is bounded.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // tests

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Prometheus's tools.
pub struct Tools {
    pub prometheus: PathBuf,
    pub promtool: PathBuf,
}

/// Find `name`: `$PATCHSCOPE_<NAME>` (set by `.ci/run`), the extracted
/// Debian package under `$PATCHSCOPE_TOOLS` (default
/// `/var/cache/patchscope-tools`), then `PATH`.
fn find_tool(name: &str) -> Option<PathBuf> {
    let var = format!("PATCHSCOPE_{}", name.to_ascii_uppercase());
    if let Ok(p) = std::env::var(&var)
        && !p.is_empty()
        && Path::new(&p).is_file()
    {
        return Some(PathBuf::from(p));
    }
    let tools = std::env::var("PATCHSCOPE_TOOLS")
        .unwrap_or_else(|_| "/var/cache/patchscope-tools".to_string());
    let p = Path::new(&tools).join("prometheus/usr/bin").join(name);
    if p.is_file() {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Under CI a missing tool is a failure; locally the test is skipped with
/// the reason printed.
pub fn require(name: &str) -> Option<PathBuf> {
    match find_tool(name) {
        Some(p) => Some(p),
        None => {
            let msg = format!(
                "{name} not found (looked at $PATCHSCOPE_{}, $PATCHSCOPE_TOOLS/prometheus/usr/bin, PATH); install it with `bash tests/vm/setup prometheus`",
                name.to_ascii_uppercase()
            );
            if std::env::var_os("CI").is_some() {
                panic!("CI is set and {msg}");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

/// Both tools, or `None` (skipped locally; panics under CI).
pub fn prometheus_tools() -> Option<Tools> {
    let promtool = require("promtool")?;
    let prometheus = require("prometheus")?;
    Some(Tools {
        prometheus,
        promtool,
    })
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process killed when dropped, with its stderr collected.
pub struct Running {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub name: String,
}

impl Running {
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `cmd` with stderr collected; lines are passed to `watch`, whose
/// first `Some` is sent back (used to learn the bound address).
fn spawn_collecting(
    mut cmd: Command,
    name: &str,
    watch: impl Fn(&str) -> Option<String> + Send + 'static,
) -> (Running, mpsc::Receiver<String>) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    let stderr = child.stderr.take().expect("stderr piped");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let l2 = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(v) = watch(&line) {
                let _ = tx.send(v);
            }
            l2.lock().unwrap().push(line);
        }
    });
    (
        Running {
            child,
            stderr: lines,
            name: name.to_string(),
        },
        rx,
    )
}

/// Start `patchscope exporter ARGS` on 127.0.0.1, port chosen by the
/// kernel; returns the process and the address it listens on.
pub fn start_exporter(args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchscope"));
    cmd.arg("exporter")
        .args(["--web.listen-address", "127.0.0.1:0"])
        .args(args);
    let (mut run, rx) = spawn_collecting(cmd, "patchscope exporter", |line| {
        if !line.contains("msg=listening") {
            return None;
        }
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix("address="))
            .map(str::to_string)
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(a) => {
            let addr = a.parse().expect("listening address");
            (run, addr)
        }
        Err(_) => {
            let _ = run.child.kill();
            std::thread::sleep(Duration::from_millis(200));
            panic!("exporter did not start listening:\n{}", run.log());
        }
    }
}

/// Start a command and collect its stderr, without waiting for anything.
pub fn start(cmd: Command, name: &str) -> Running {
    spawn_collecting(cmd, name, |_| None).0
}

/// A free loopback port (bound and released; a small race, acceptable on
/// a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Plain HTTP/1.1 GET with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
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

/// Percent-encode a query parameter.
pub fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Poll `f` every `every` until it returns `Some` or `limit` passes.
pub fn poll<T>(limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The value of an unlabelled sample line of a scrape.
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Run promtool with `args`, feeding `stdin`; returns (success, output).
pub fn promtool(tool: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        let mut si = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            si.write_all(s.as_bytes()).expect("write promtool stdin");
        }
    }
    let out = child.wait_with_output().expect("promtool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
