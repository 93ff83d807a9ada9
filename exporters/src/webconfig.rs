//! `--web.config.file`: the web configuration file of Prometheus's
//! exporter-toolkit, so one file format serves node_exporter and
//! patchscope alike.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # relative paths: to this file's directory
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: clients.crt
//!   min_version: TLS12           # TLS12 (default) or TLS13
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...       # bcrypt hash, e.g. `htpasswd -nBC 10 ""`
//! ```
//!
//! Supported as in exporter-toolkit: `cert_file`/`key_file` (or inline
//! `cert`/`key`), `client_auth_type` `NoClientCert`,
//! `VerifyClientCertIfGiven` and `RequireAndVerifyClientCert` with
//! `client_ca_file`, `min_version`/`max_version`, `cipher_suites` (TLS 1.2
//! IANA names), `curve_preferences` (`X25519`, `CurveP256`, `CurveP384`),
//! the security `headers`, and `basic_auth_users`. What rustls cannot do
//! (TLS 1.0/1.1, `RequestClientCert`, `RequireAnyClientCert`, P-521) is
//! refused with an error at start-up, never silently ignored. Unknown keys
//! are errors too, as in exporter-toolkit. The file is read once at start;
//! restart the exporter to apply a change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Why the web configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("reading web config file {path} failed: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("web config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A setting is invalid or unsupported.
    #[error("web config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong and what to do.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    tls_server_config: Option<TlsFormat>,
    http_server_config: Option<HttpFormat>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFormat {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFormat {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// Response headers exporter-toolkit lets a web config file set.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// A loaded, validated web configuration.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// TLS, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users and their bcrypt hashes; empty: no authentication.
    pub users: BTreeMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// A bcrypt hash with the users' cost, checked for unknown users so
    /// that a wrong user name costs the same time as a wrong password.
    dummy_hash: String,
    /// Logins that succeeded (shared by clones).
    logins: Arc<LoginCache>,
}

/// Successful logins, so that a scraper with the right password pays for
/// bcrypt once, not on every scrape (exporter-toolkit caches them too):
/// per user, a keyed hash of the password that worked. The key is random
/// per process, so the cache holds nothing usable offline; at most one
/// entry per configured user.
#[derive(Default)]
struct LoginCache {
    key: std::hash::RandomState,
    ok: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl LoginCache {
    fn fingerprint(&self, user: &str, pass: &str) -> u64 {
        use std::hash::BuildHasher;
        self.key.hash_one((user, pass))
    }

    fn knows(&self, user: &str, pass: &str) -> bool {
        let f = self.fingerprint(user, pass);
        self.ok
            .lock()
            .map(|m| m.get(user) == Some(&f))
            .unwrap_or(false)
    }

    fn remember(&self, user: &str, pass: &str) {
        let f = self.fingerprint(user, pass);
        if let Ok(mut m) = self.ok.lock() {
            m.insert(user.to_string(), f);
        }
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print hashes.
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

/// Load and validate `path`.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|e| match e {
        Problem::Parse(message) => WebConfigError::Parse {
            path: path.to_path_buf(),
            message,
        },
        Problem::Invalid(message) => WebConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        },
    })
}

enum Problem {
    Parse(String),
    Invalid(String),
}

fn invalid(m: impl Into<String>) -> Problem {
    Problem::Invalid(m.into())
}

fn parse(text: &str, dir: &Path) -> Result<WebConfig, Problem> {
    // An empty file is a valid, empty configuration.
    let f: FileFormat = if text.trim().is_empty() {
        FileFormat::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| Problem::Parse(e.to_string()))?
    };
    let mut cfg = WebConfig::default();
    if let Some(users) = f.basic_auth_users {
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(invalid(format!(
                    "basic_auth_users: user name {user:?} contains ':', which basic auth cannot carry"
                )));
            }
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                invalid(format!(
                    "basic_auth_users: the password of user {user:?} is not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                ))
            })?;
        }
        if let Some(first) = users.values().next() {
            let cost = first
                .parse::<bcrypt::HashParts>()
                .map(|p| p.get_cost())
                .unwrap_or(bcrypt::DEFAULT_COST);
            cfg.dummy_hash = bcrypt::hash("patchscope: no such user", cost)
                .map_err(|e| invalid(format!("basic_auth_users: {e}")))?;
        }
        cfg.users = users;
    }
    if let Some(http) = f.http_server_config {
        // http2 is accepted for compatibility; this server speaks HTTP/1.1.
        let _ = http.http2;
        for (name, value) in http.headers.unwrap_or_default() {
            let Some(canon) = ALLOWED_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(&name))
            else {
                return Err(invalid(format!(
                    "http_server_config.headers: {name:?} cannot be set; allowed: {}",
                    ALLOWED_HEADERS.join(", ")
                )));
            };
            if hyper::header::HeaderValue::from_str(&value).is_err() {
                return Err(invalid(format!(
                    "http_server_config.headers: value of {name} is not a valid header value"
                )));
            }
            cfg.headers.push(((*canon).to_string(), value));
        }
    }
    if let Some(tls) = f.tls_server_config {
        cfg.tls = tls_config(tls, dir)?;
    }
    Ok(cfg)
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

fn tls_config(t: TlsFormat, dir: &Path) -> Result<Option<Arc<rustls::ServerConfig>>, Problem> {
    let has_cert = t.cert_file.is_some() || t.cert.is_some();
    let has_key = t.key_file.is_some() || t.key.is_some();
    if !has_cert && !has_key {
        // exporter-toolkit: no certificate and no key means plain HTTP.
        return Ok(None);
    }
    if t.cert_file.is_some() && t.cert.is_some() {
        return Err(invalid(
            "tls_server_config: set cert_file or cert, not both",
        ));
    }
    if t.key_file.is_some() && t.key.is_some() {
        return Err(invalid("tls_server_config: set key_file or key, not both"));
    }
    if !has_cert {
        return Err(invalid(
            "tls_server_config: key_file is set but cert_file is missing",
        ));
    }
    if !has_key {
        return Err(invalid(
            "tls_server_config: cert_file is set but key_file is missing",
        ));
    }
    if t.client_allowed_sans.is_some_and(|v| !v.is_empty()) {
        return Err(invalid(
            "tls_server_config.client_allowed_sans is not supported by patchscope",
        ));
    }
    let _ = t.prefer_server_cipher_suites; // deprecated in Go too: no effect.

    let certs: Vec<CertificateDer<'static>> = match (&t.cert_file, &t.cert) {
        (Some(f), _) => {
            let path = resolve(dir, f);
            let it = CertificateDer::pem_file_iter(&path)
                .map_err(|e| invalid(format!("cert_file {}: {e}", path.display())))?;
            it.collect::<Result<_, _>>()
                .map_err(|e| invalid(format!("cert_file {}: {e}", path.display())))?
        }
        (None, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("tls_server_config.cert: {e}")))?,
        (None, None) => Vec::new(),
    };
    if certs.is_empty() {
        return Err(invalid(
            "tls_server_config: the certificate holds no PEM CERTIFICATE block",
        ));
    }
    let key: PrivateKeyDer<'static> = match (&t.key_file, &t.key) {
        (Some(f), _) => {
            let path = resolve(dir, f);
            PrivateKeyDer::from_pem_file(&path)
                .map_err(|e| invalid(format!("key_file {}: {e}", path.display())))?
        }
        (None, Some(pem)) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| invalid(format!("tls_server_config.key: {e}")))?,
        (None, None) => return Err(invalid("tls_server_config: no key")),
    };

    let provider = Arc::new(crypto_provider(
        t.cipher_suites.as_deref(),
        t.curve_preferences.as_deref(),
    )?);
    let versions = protocol_versions(t.min_version.as_deref(), t.max_version.as_deref())?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("tls_server_config: {e}")))?;

    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth {
        "" | "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = &t.client_ca_file else {
                return Err(invalid(format!(
                    "tls_server_config: client_auth_type {auth} needs client_ca_file"
                )));
            };
            let path = resolve(dir, ca);
            let mut roots = rustls::RootCertStore::empty();
            let it = CertificateDer::pem_file_iter(&path)
                .map_err(|e| invalid(format!("client_ca_file {}: {e}", path.display())))?;
            for c in it {
                let c =
                    c.map_err(|e| invalid(format!("client_ca_file {}: {e}", path.display())))?;
                roots
                    .add(c)
                    .map_err(|e| invalid(format!("client_ca_file {}: {e}", path.display())))?;
            }
            let mut vb = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            );
            if auth == "VerifyClientCertIfGiven" {
                vb = vb.allow_unauthenticated();
            }
            let verifier = vb
                .build()
                .map_err(|e| invalid(format!("client_ca_file {}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(invalid(format!(
                "tls_server_config: client_auth_type {auth} (client certificates that are not verified) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
            )));
        }
        other => {
            return Err(invalid(format!(
                "tls_server_config: unknown client_auth_type {other:?}; use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            )));
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("tls_server_config: certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(cfg)))
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Problem> {
    fn rank(v: &str, which: &str) -> Result<u8, Problem> {
        match v {
            "TLS12" => Ok(2),
            "TLS13" => Ok(3),
            "TLS10" | "TLS11" => Err(invalid(format!(
                "tls_server_config.{which}: {v} is not supported (TLS 1.0 and 1.1 are obsolete); use TLS12 or TLS13"
            ))),
            other => Err(invalid(format!(
                "tls_server_config.{which}: unknown TLS version {other:?}; use TLS12 or TLS13"
            ))),
        }
    }
    let lo = min
        .map(|v| rank(v, "min_version"))
        .transpose()?
        .unwrap_or(2);
    let hi = max
        .map(|v| rank(v, "max_version"))
        .transpose()?
        .unwrap_or(3);
    if lo > hi {
        return Err(invalid(
            "tls_server_config: min_version is above max_version",
        ));
    }
    let mut out = Vec::new();
    if lo <= 3 && hi >= 3 {
        out.push(&rustls::version::TLS13);
    }
    if lo <= 2 && hi >= 2 {
        out.push(&rustls::version::TLS12);
    }
    Ok(out)
}

fn crypto_provider(
    suites: Option<&[String]>,
    curves: Option<&[String]>,
) -> Result<rustls::crypto::CryptoProvider, Problem> {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(names) = suites.filter(|s| !s.is_empty()) {
        // As in Go, the list configures TLS 1.2 suites; TLS 1.3 suites stay.
        let mut keep: Vec<rustls::SupportedCipherSuite> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for n in names {
            let found = p
                .cipher_suites
                .iter()
                .find(|s| s.suite().as_str() == Some(n.as_str()))
                .copied();
            match found {
                Some(s) if s.version() == &rustls::version::TLS12 => keep.push(s),
                Some(_) => {}
                None => {
                    return Err(invalid(format!(
                        "tls_server_config.cipher_suites: {n:?} is not supported; supported: {}",
                        p.cipher_suites
                            .iter()
                            .filter(|s| s.version() == &rustls::version::TLS12)
                            .filter_map(|s| s.suite().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        p.cipher_suites = keep;
    }
    if let Some(names) = curves.filter(|c| !c.is_empty()) {
        let mut groups = Vec::new();
        for n in names {
            let want = match n.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                other => {
                    return Err(invalid(format!(
                        "tls_server_config.curve_preferences: {other:?} is not supported; use X25519, CurveP256 or CurveP384"
                    )));
                }
            };
            if let Some(g) = p.kx_groups.iter().find(|g| g.name() == want) {
                groups.push(*g);
            }
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// Outcome of checking a request's `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No users configured, or the credentials match.
    Allowed,
    /// Missing or wrong credentials.
    Denied,
}

impl WebConfig {
    /// The outcome of checking the `Authorization` header when it needs no
    /// bcrypt: no users configured, a header that is not basic auth, or a
    /// login that succeeded before. `None`: call [`WebConfig::check_auth`].
    pub fn check_auth_cached(&self, authorization: Option<&[u8]>) -> Option<AuthOutcome> {
        if self.users.is_empty() {
            return Some(AuthOutcome::Allowed);
        }
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return Some(AuthOutcome::Denied);
        };
        (self.users.contains_key(&user) && self.logins.knows(&user, &pass))
            .then_some(AuthOutcome::Allowed)
    }

    /// Check the `Authorization` header value. Runs bcrypt: call it off the
    /// async threads (`spawn_blocking`), one at a time.
    pub fn check_auth(&self, authorization: Option<&[u8]>) -> AuthOutcome {
        if self.users.is_empty() {
            return AuthOutcome::Allowed;
        }
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return AuthOutcome::Denied;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (self.dummy_hash.as_str(), false),
        };
        let ok = bcrypt::verify(pass.as_bytes(), hash).unwrap_or(false);
        if ok && known {
            self.logins.remember(&user, &pass);
            AuthOutcome::Allowed
        } else {
            AuthOutcome::Denied
        }
    }
}

/// `Basic base64(user:password)` to (user, password).
fn parse_basic(h: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(h).ok()?.trim();
    let (scheme, rest) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(p: &str) -> String {
        // Cost 4 keeps the tests fast; real files use 10 or more.
        bcrypt::hash(p, 4).unwrap()
    }

    fn basic(u: &str, p: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
        .into_bytes()
    }

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        let c = parse("", Path::new(".")).ok().unwrap();
        assert!(c.tls.is_none());
        assert_eq!(c.check_auth(None), AuthOutcome::Allowed);
    }

    #[test]
    fn successful_logins_are_cached_and_nothing_else() {
        let c = parse(
            &format!("basic_auth_users:\n  u: '{}'\n", hash("pw")),
            Path::new("."),
        )
        .ok()
        .unwrap();
        assert_eq!(c.check_auth_cached(Some(&basic("u", "pw"))), None);
        assert_eq!(
            c.check_auth_cached(Some(b"Bearer x")),
            Some(AuthOutcome::Denied)
        );
        assert_eq!(c.check_auth_cached(None), Some(AuthOutcome::Denied));
        assert_eq!(
            c.check_auth(Some(&basic("u", "wrong"))),
            AuthOutcome::Denied
        );
        assert_eq!(c.check_auth_cached(Some(&basic("u", "wrong"))), None);
        assert_eq!(c.check_auth(Some(&basic("u", "pw"))), AuthOutcome::Allowed);
        assert_eq!(
            c.check_auth_cached(Some(&basic("u", "pw"))),
            Some(AuthOutcome::Allowed)
        );
        // Clones (the server's) share the cache; other passwords still
        // need the full check.
        let d = c.clone();
        assert_eq!(
            d.check_auth_cached(Some(&basic("u", "pw"))),
            Some(AuthOutcome::Allowed)
        );
        assert_eq!(d.check_auth_cached(Some(&basic("u", "pw2"))), None);
        assert_eq!(d.check_auth_cached(Some(&basic("x", "pw"))), None);
    }

    #[test]
    fn basic_auth_checks_bcrypt_hashes() {
        let text = format!("basic_auth_users:\n  alice: '{}'\n", hash("s3cret"));
        let c = parse(&text, Path::new(".")).ok().unwrap();
        assert_eq!(
            c.check_auth(Some(&basic("alice", "s3cret"))),
            AuthOutcome::Allowed
        );
        assert_eq!(
            c.check_auth(Some(&basic("alice", "wrong"))),
            AuthOutcome::Denied
        );
        assert_eq!(
            c.check_auth(Some(&basic("bob", "s3cret"))),
            AuthOutcome::Denied
        );
        assert_eq!(c.check_auth(None), AuthOutcome::Denied);
        assert_eq!(c.check_auth(Some(b"Bearer abc")), AuthOutcome::Denied);
        assert_eq!(c.check_auth(Some(b"Basic !!!")), AuthOutcome::Denied);
        // Passwords may contain ':'.
        let text = format!("basic_auth_users:\n  u: '{}'\n", hash("a:b"));
        let c = parse(&text, Path::new(".")).ok().unwrap();
        assert_eq!(c.check_auth(Some(&basic("u", "a:b"))), AuthOutcome::Allowed);
    }

    fn err(text: &str) -> String {
        match parse(text, Path::new("/nonexistent")) {
            Ok(_) => panic!("accepted: {text}"),
            Err(Problem::Parse(m) | Problem::Invalid(m)) => m,
        }
    }

    #[test]
    fn bad_files_are_refused_with_reasons() {
        assert!(err("basic_auth_users:\n  alice: plaintext\n").contains("not a bcrypt hash"));
        assert!(err("tls_server_config:\n  cert_file: a.crt\n").contains("key_file is missing"));
        assert!(err("tls_server_config:\n  key_file: a.key\n").contains("cert_file is missing"));
        assert!(err("unknown_key: 1\n").contains("unknown field"));
        assert!(
            err("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n")
                .contains("/nonexistent/a.crt")
        );
        assert!(
            err("http_server_config:\n  headers:\n    Set-Cookie: x\n").contains("cannot be set")
        );
        assert!(protocol_versions(Some("TLS10"), None).is_err());
        assert!(protocol_versions(Some("TLS13"), Some("TLS12")).is_err());
        assert_eq!(
            protocol_versions(Some("TLS13"), None).ok().unwrap().len(),
            1
        );
        assert!(crypto_provider(Some(&["TLS_RSA_WITH_RC4_128_SHA".into()]), None).is_err());
        assert!(crypto_provider(None, Some(&["CurveP521".into()])).is_err());
        let p = crypto_provider(
            Some(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()]),
            Some(&["X25519".into()]),
        )
        .ok()
        .unwrap();
        assert_eq!(p.kx_groups.len(), 1);
        assert!(
            p.cipher_suites
                .iter()
                .any(|s| s.suite().as_str() == Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
        );
    }

    #[test]
    fn tls_files_load_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("s.crt"), ck.cert.pem()).unwrap();
        std::fs::write(dir.path().join("s.key"), ck.key_pair.serialize_pem()).unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(
            &p,
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  min_version: TLS13\nhttp_server_config:\n  headers:\n    x-frame-options: deny\n",
        )
        .unwrap();
        let c = load(&p).unwrap();
        assert!(c.tls.is_some());
        assert_eq!(
            c.headers,
            vec![("X-Frame-Options".to_string(), "deny".to_string())]
        );
        assert!(format!("{c:?}").contains("tls: true"));
        let missing = load(&dir.path().join("nope.yml")).unwrap_err().to_string();
        assert!(missing.contains("nope.yml"), "{missing}");
    }
}
