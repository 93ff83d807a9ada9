//! Hostile text end to end, through the real `patchscope` binary: a Linux
//! fixture tree and a FreeBSD dump whose patch, object, function and
//! thread names, wait channels, stack lines, kernel release and garbage
//! values hold ANSI/OSC escapes, other C0 controls, DEL, C1 controls,
//! bidirectional overrides, zero-width characters, invalid UTF-8 and very
//! long values. Every command that prints them (`status` as a table, as
//! JSON and as Prometheus text, `check`, `revert` with its plan, outcome
//! and audit line, and error messages) must print only terminal-safe text,
//! show the hostile parts as visible escapes, keep JSON lossless and keep
//! the exposition format valid.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; tests may unwrap

#[path = "support/exposition.rs"]
mod exposition;
#[path = "../kmod-bridge/tests/common/linux_fixture.rs"]
mod linux_fixture;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

use linux_fixture::{Kernel, LinuxFixture};

/// Each class of hostile text, as raw bytes (what the kernel hands out).
const PIECES: &[(&str, &[u8])] = &[
    ("CSI clear screen + colour", b"\x1b[2J\x1b[31m"),
    ("OSC window title", b"\x1b]0;pwned\x07"),
    ("C0 backspace, CR, VT, BEL", b"\x08\r\x0b\x07"),
    ("DEL", b"\x7f"),
    ("C1 CSI and NEL (UTF-8)", "\u{9b}31m\u{85}".as_bytes()),
    ("bidi RLO, LRI, RLM", "\u{202e}\u{2066}\u{200f}".as_bytes()),
    ("zero width and BOM", "\u{200b}\u{feff}".as_bytes()),
    ("invalid UTF-8", b"\xff\xfe\x80\xe2\x82"),
];

/// All pieces in one string, between harmless letters.
fn hostile() -> Vec<u8> {
    let mut v = b"H".to_vec();
    for (_, p) in PIECES {
        v.extend_from_slice(p);
        v.push(b'_');
    }
    v
}

/// A character no terminal must receive raw. Written out here, not taken
/// from `kmod_bridge::sanitize`, so weakening the sanitiser fails the test.
fn unsafe_char(c: char) -> bool {
    let u = c as u32;
    (u < 0x20 && c != '\n')
        || (0x7f..=0x9f).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
        || u == 0x061c
        || u == 0xfeff
}

/// `bytes` is UTF-8 with nothing unsafe and no line longer than `max_line`.
fn assert_clean(what: &str, bytes: &[u8], max_line: usize) {
    let s = std::str::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{what}: not UTF-8 at byte {}", e.valid_up_to()));
    if let Some((i, c)) = s.char_indices().find(|&(_, c)| unsafe_char(c)) {
        let from = s[..i].char_indices().rev().nth(40).map_or(0, |(j, _)| j);
        panic!(
            "{what}: raw U+{:04X} reaches the terminal at byte {i}, after {:?}",
            c as u32,
            &s[from..i]
        );
    }
    if let Some(l) = s.lines().find(|l| l.chars().count() > max_line) {
        panic!(
            "{what}: a line of {} characters (max {max_line}): {}…",
            l.chars().count(),
            l.chars().take(80).collect::<String>()
        );
    }
}

fn patchscope<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_patchscope"))
        .args(args)
        .env_remove("CI")
        .env("USER", "tester")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

fn linux_args(fx: &LinuxFixture) -> Vec<String> {
    vec![
        "--source".into(),
        "linux".into(),
        "--path.sysfs".into(),
        fx.sysfs.display().to_string(),
        "--path.procfs".into(),
        fx.procfs.display().to_string(),
        "--path.kmsg".into(),
        fx.kmsg.display().to_string(),
    ]
}

fn with(cmd: &[&str], source: &[String]) -> Vec<String> {
    cmd.iter()
        .map(|s| s.to_string())
        .chain(source.iter().cloned())
        .collect()
}

/// A Linux tree with hostile text in every place the kernel lets it be.
fn hostile_linux() -> (LinuxFixture, Vec<u8>) {
    let h = hostile();
    let fx = LinuxFixture::new();
    let mut patch_name = b"lp".to_vec();
    patch_name.extend_from_slice(&h);
    let pname = std::ffi::OsStr::from_bytes(&patch_name);
    let p = fx.patch(pname.to_str().unwrap_or("lp-invalid"), Kernel::V6_13);
    // The patch name holds invalid UTF-8: move the directory to its raw
    // byte name.
    let raw_dir = fx.sysfs.join("kernel/livepatch").join(pname);
    fs::rename(&p.dir, &raw_dir).unwrap();
    fs::write(raw_dir.join("transition"), "1\n").unwrap();
    let mut obj = b"obj".to_vec();
    obj.extend_from_slice(&h);
    let obj_dir = raw_dir.join(OsStr::from_bytes(&obj));
    fs::create_dir_all(obj_dir.join("vfs_read,1")).unwrap();
    let mut func = b"fn".to_vec();
    func.extend_from_slice(&h);
    func.extend_from_slice(b",1");
    fs::create_dir_all(obj_dir.join(OsStr::from_bytes(&func))).unwrap();
    fs::write(obj_dir.join("patched"), b"1\n").unwrap();
    // An optional value that is garbage: said in a note quoting it.
    fs::write(raw_dir.join("replace"), &h).unwrap();
    fs::write(
        fx.procfs.join("sys/kernel/osrelease"),
        [b"6.1.0-".as_slice(), &h, b"\n"].concat(),
    )
    .unwrap();

    // Blocked threads: hostile comm (very long too), wchan and stack.
    let mut comm = h.clone();
    comm.extend(std::iter::repeat_n(b'A', 100_000));
    let mut stack = Vec::new();
    stack.extend_from_slice(b"[<0>] msleep+0x29/0x40\n[<0>] ");
    stack.extend_from_slice(&h);
    stack.extend_from_slice(b"+0x1/0x2 [mod");
    stack.extend_from_slice(&h);
    stack.extend_from_slice(b"]\n[<0>] vfs_read+0x1c/0x40\n");
    stack.extend(std::iter::repeat_n(b'S', 50_000));
    stack.push(b'\n');
    fx.thread(100, 100)
        .patch_state(0)
        .comm(&comm)
        .wchan(std::str::from_utf8(b"w").unwrap())
        .set("wchan", &h)
        .set("stack", &stack);
    fx.thread(100, 101).patch_state(0).comm(&h);
    fx.thread(200, 200).patch_state(1);
    (fx, patch_name)
}

/// The model's name of a raw kernel name (lossless UTF-8).
fn lossless(b: &[u8]) -> String {
    kmod_bridge::sanitize::bytes_lossless(b)
}

#[test]
fn linux_status_table_json_prometheus_and_check_print_only_safe_text() {
    let (fx, patch_name) = hostile_linux();
    let src = linux_args(&fx);

    // The table: every hostile part shown as a visible escape.
    let o = patchscope(with(&["status"], &src));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_clean("status", &o.stdout, 2400);
    assert_clean("status stderr", &o.stderr, 2400);
    let out = String::from_utf8_lossy(&o.stdout);
    for visible in [
        "\\x1b[2J\\x1b[31m",
        "\\x1b]0;pwned\\x07",
        "\\x08\\x0d\\x0b\\x07",
        "\\x7f",
        "\\x9b31m\\x85",
        "\\u{202e}\\u{2066}\\u{200f}",
        "\\u{200b}\\u{feff}",
        "\\xff\\xfe\\x80\\xe2\\x82",
    ] {
        assert!(out.contains(visible), "{visible} not shown in:\n{out}");
    }
    assert!(out.contains("transition: patching 'lpH"), "{out}");
    assert!(out.contains("note: "), "the garbage replace value is said");

    // JSON: lossless, parseable, and still terminal-safe.
    let o = patchscope(with(&["status", "--json"], &src));
    assert!(o.status.success());
    assert_clean("status --json", &o.stdout, usize::MAX);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["patches"][0]["name"], lossless(&patch_name));
    assert_eq!(v["transition"]["patch"], lossless(&patch_name));
    let obj = &v["patches"][0]["objects"][0];
    assert_eq!(
        obj["name"],
        lossless(&[b"obj".as_slice(), &hostile()].concat())
    );
    let funcs: Vec<&str> = obj["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(funcs.contains(&lossless(&[b"fn".as_slice(), &hostile()].concat()).as_str()));
    let t = &v["blocked_threads"][0];
    assert_eq!(t["wchan"], lossless(&hostile()));
    let comm = t["comm"].as_str().unwrap();
    assert!(comm.starts_with(&lossless(&hostile())), "{comm:.80}");
    // 64 KiB read; an invalid byte shows as 4 characters.
    assert!(
        comm.len() <= 4 * 64 * 1024,
        "comm read bounded: {}",
        comm.len()
    );
    assert_eq!(t["blocking_function"], "vfs_read");
    assert_eq!(
        v["kernel"]["release"],
        lossless(&[b"6.1.0-".as_slice(), &hostile()].concat())
    );

    // Prometheus text: valid exposition, labels escaped and safe.
    let o = patchscope(with(&["status", "--format", "prometheus"], &src));
    assert!(o.status.success());
    assert_clean("status --format prometheus", &o.stdout, 4096);
    let text = String::from_utf8(o.stdout).unwrap();
    let e = exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let patch_labels: Vec<&str> = e.samples.iter().filter_map(|s| s.label("patch")).collect();
    assert!(
        patch_labels.iter().any(|l| l.starts_with("lpH\\x1b[2J")),
        "{patch_labels:?}"
    );

    // check: one safe line, still a plugin answer.
    let o = patchscope(with(&["check"], &src));
    assert!(matches!(o.status.code(), Some(0..=2)), "{o:?}");
    assert_clean("check", &o.stdout, 4096);
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.contains("'lpH\\x1b[2J"), "{line}");
}

#[test]
fn linux_revert_of_a_hostile_patch_prints_and_logs_only_safe_text() {
    let (fx, patch_name) = hostile_linux();
    let src = linux_args(&fx);
    // The user names the patch as patchscope shows it in JSON (raw control
    // characters, invalid bytes as \xNN): the source finds its directory.
    let name = lossless(&patch_name);
    let o = patchscope(with(&["revert", &name, "--yes"], &src));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_clean("revert stdout", &o.stdout, 4096);
    assert_clean("revert stderr", &o.stderr, 4096);
    // The plan, the outcome and the audit line name the patch escaped.
    assert!(err.contains("revert 'lpH\\x1b[2J"), "{err}");
    let audit = err
        .lines()
        .find(|l| l.starts_with("patchscope: revert of 'lpH\\x1b[2J"))
        .unwrap_or_else(|| panic!("no audit line in {err}"));
    assert!(audit.contains(" by tester (uid "), "{audit}");
    assert!(audit.contains("/enabled: ok"), "{audit}");
    assert!(audit.contains("wrote 0 to "), "{audit}");
    let dir = fx
        .sysfs
        .join("kernel/livepatch")
        .join(OsStr::from_bytes(&patch_name));
    // sysfs files are written in place (no truncation): "1\n" became "0\n".
    assert_eq!(fs::read_to_string(dir.join("enabled")).unwrap(), "0\n");
}

#[test]
fn errors_about_hostile_files_are_safe_and_keep_their_end() {
    let h = hostile();
    let fx = LinuxFixture::new();
    // A long hostile name: the error names the file, quotes the garbage,
    // and its end is not cut off by a length cap.
    let mut name = b"lp".to_vec();
    name.extend_from_slice(&h);
    name.extend(std::iter::repeat_n(b'n', 180));
    let dir = fx
        .sysfs
        .join("kernel/livepatch")
        .join(OsStr::from_bytes(&name));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("enabled"), [h.as_slice(), &[b'1'; 1000]].concat()).unwrap();
    fs::write(dir.join("transition"), "0\n").unwrap();
    for cmd in [
        &["status"][..],
        &["status", "--json"],
        &["revert", "x", "--yes"],
    ] {
        let o = patchscope(with(cmd, &linux_args(&fx)));
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert_clean(&format!("{cmd:?} stderr"), &o.stderr, 4096);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("patchscope: "), "{err}");
        assert!(err.contains("lpH\\x1b[2J"), "{err}");
        assert!(
            err.trim_end().ends_with("expected 0 or 1, found \"H\\x1b[2J\\x1b[31m_\\x1b]0;pwned\\x07_\\x08\\x0d\\x0b\\x07_\\x7f_\\x9b31m\\x85_\\u{202e}…\""),
            "{err}"
        );
    }
    let o = patchscope(with(&["check"], &linux_args(&fx)));
    assert_eq!(o.status.code(), Some(3));
    assert_clean("check", &o.stdout, 4096);
    assert!(String::from_utf8_lossy(&o.stdout).contains("expected 0 or 1"));
}

/// The stalled FreeBSD dump fixture with hostile raw bytes in string
/// nodes and %-encoded hostile bytes in the blocked-thread list.
fn hostile_dump(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = fs::read(root.join("kmod-bridge/tests/fixtures/freebsd/stalled.txt")).unwrap();
    let h = hostile();
    // Dumps are text lines: no raw newline or CR inside a value.
    let raw: Vec<u8> = h.iter().copied().filter(|&b| b != b'\r').collect();
    let pct: String = h.iter().map(|b| format!("%{b:02X}")).collect();
    let text = String::from_utf8_lossy(&base).into_owned();
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let mut l = line.as_bytes().to_vec();
        let replace = |l: &[u8], from: &str, to: &[u8]| -> Vec<u8> {
            let s = l;
            match s.windows(from.len()).position(|w| w == from.as_bytes()) {
                Some(i) => [&s[..i], to, &s[i + from.len()..]].concat(),
                None => s.to_vec(),
            }
        };
        if line.starts_with("kern.livepatch.kernel:")
            || line.starts_with("kern.livepatch.patch.lp_base.signer:")
            || line.starts_with("kern.livepatch.patch.lp_vfs_2.name:")
            || line.starts_with("kern.livepatch.transition.patch:")
        {
            let end = l.len() - 1;
            l = [&l[..end], &raw, b"\n"].concat();
        }
        l = replace(&l, "\tsyncer\t", format!("\tsyncer{pct}\t").as_bytes());
        l = replace(&l, "\tvn_read\tdd\t", format!("\tvn{pct}\tdd\t").as_bytes());
        l = replace(&l, "vn_read+0x3a;", format!("vn{pct}+0x3a;").as_bytes());
        out.extend_from_slice(&l);
    }
    let path = dir.join("hostile-dump.txt");
    fs::write(&path, out).unwrap();
    path
}

#[test]
fn dump_with_hostile_strings_prints_only_safe_text() {
    let dir = tempfile::tempdir().unwrap();
    let dump = hostile_dump(dir.path());
    let spec = format!("dump:{}", dump.display());
    let src = vec!["--source".to_string(), spec];
    for cmd in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--format", "prometheus"],
        &["check"],
        &["revert", "lp-vfs.2", "--yes"],
    ] {
        let o = patchscope(with(cmd, &src));
        assert_clean(&format!("{cmd:?} stdout"), &o.stdout, 4096);
        assert_clean(&format!("{cmd:?} stderr"), &o.stderr, 4096);
        if cmd == ["status"] {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out.contains("syncerH\\x1b[2J"), "{out}");
            assert!(out.contains("vnH\\x1b[2J"), "blocking function: {out}");
            assert!(out.contains("lp-vfs.2H\\x1b[2J"), "{out}");
        }
        if cmd == ["status", "--format", "prometheus"] {
            let text = String::from_utf8(o.stdout.clone()).unwrap();
            exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
        if cmd == ["status", "--json"] {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let comms: Vec<&str> = v["blocked_threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["comm"].as_str().unwrap())
                .collect();
            assert!(
                comms.contains(&lossless(&[b"syncer".as_slice(), &hostile()].concat()).as_str()),
                "{comms:?}"
            );
        }
    }
}

#[test]
fn simulator_hostile_thread_name_is_safe_everywhere() {
    for cmd in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--format", "prometheus"],
        &["check"],
    ] {
        let o = patchscope(with(
            cmd,
            &[
                "--source".into(),
                "sim".into(),
                "--scenario".into(),
                "storm".into(),
            ],
        ));
        assert!(o.status.code().is_some_and(|c| c <= 2), "{cmd:?}");
        assert_clean(&format!("sim {cmd:?}"), &o.stdout, 4096);
    }
}
