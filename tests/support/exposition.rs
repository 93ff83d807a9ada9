//! A strict parser of the Prometheus text exposition format (0.0.4), for
//! tests that must prove every scrape is valid: metric and label names,
//! label-value escapes (`\\`, `\"`, `\n` only), `# HELP`/`# TYPE` before
//! a family's samples, families contiguous, no duplicate series, no
//! timestamps (the exporter guidelines forbid them), values that parse.
//!
//! Include it with `#[path = ".../tests/support/exposition.rs"] mod exposition;`.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Label pairs, in order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `k`.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed exposition: the samples and each family's type.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// Family name -> type.
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// Samples named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the one unlabelled (or first) sample named `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.all(name).next().map(|s| s.value)
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn valid_metric_name(n: &str) -> bool {
    let mut cs = n.chars();
    cs.next().is_some_and(is_name_start) && cs.all(is_name_char)
}

fn valid_label_name(n: &str) -> bool {
    let mut cs = n.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => v.parse::<f64>().ok(),
    }
}

/// The family a sample belongs to (histogram/summary suffixes folded).
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

/// Parse `text`; `Err` names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    let mut out = Exposition::default();
    let mut helps: HashSet<String> = HashSet::new();
    let mut seen_series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    let mut finished_families: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let bad = |why: &str| format!("line {n}: {why}: {line:?}");
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.trim_start().splitn(3, ' ');
            let kw = parts.next().unwrap_or("");
            if kw != "HELP" && kw != "TYPE" {
                continue; // a comment
            }
            let name = parts.next().ok_or_else(|| bad("no metric name"))?;
            if !valid_metric_name(name) {
                return Err(bad("bad metric name"));
            }
            let arg = parts.next().unwrap_or("");
            if current.as_deref() != Some(name) {
                if finished_families.contains(name) || out.types.contains_key(name) && kw == "TYPE"
                {
                    return Err(bad("family appears twice"));
                }
                if let Some(prev) = current.take() {
                    finished_families.insert(prev);
                }
                current = Some(name.to_string());
            }
            if kw == "HELP" {
                if !helps.insert(name.to_string()) {
                    return Err(bad("second HELP"));
                }
                // Only `\\` and `\n` escapes are allowed in HELP text.
                let mut cs = arg.chars();
                while let Some(c) = cs.next() {
                    if c == '\\' && !matches!(cs.next(), Some('\\') | Some('n')) {
                        return Err(bad("bad escape in HELP"));
                    }
                }
            } else {
                if !matches!(
                    arg,
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                ) {
                    return Err(bad("unknown TYPE"));
                }
                if out
                    .samples
                    .iter()
                    .any(|s| family_of(&s.name, &out.types) == name)
                {
                    return Err(bad("TYPE after samples"));
                }
                out.types.insert(name.to_string(), arg.to_string());
            }
            continue;
        }
        // A sample: name [{labels}] value [timestamp]
        let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(bad("bad metric name"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                rest = rest.trim_start_matches(' ');
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').ok_or_else(|| bad("label without ="))?;
                let lname = rest[..eq].trim();
                if !valid_label_name(lname) {
                    return Err(bad("bad label name"));
                }
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .ok_or_else(|| bad("label value not quoted"))?;
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        None => return Err(bad("unterminated label value")),
                        Some((j, '"')) => break j,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err(bad("bad escape in label value")),
                        },
                        Some((_, c)) => value.push(c),
                    }
                };
                if labels.iter().any(|(k, _): &(String, String)| k == lname) {
                    return Err(bad("label repeated"));
                }
                labels.push((lname.to_string(), value));
                rest = &rest[end + 1..];
                rest = rest.trim_start_matches(' ');
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else if !rest.starts_with('}') {
                    return Err(bad("expected , or }"));
                }
            }
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if !rest.starts_with(' ') {
            return Err(bad("no space before the value"));
        }
        match fields.as_slice() {
            [v] => {
                let value = parse_value(v).ok_or_else(|| bad("value does not parse"))?;
                let family = family_of(name, &out.types).to_string();
                if current.as_deref() != Some(family.as_str()) {
                    if finished_families.contains(&family) {
                        return Err(bad("family not contiguous"));
                    }
                    if let Some(prev) = current.take() {
                        finished_families.insert(prev);
                    }
                    current = Some(family);
                }
                let key = (
                    name.to_string(),
                    labels.iter().cloned().collect::<BTreeMap<_, _>>(),
                );
                if !seen_series.insert(key) {
                    return Err(bad("duplicate series"));
                }
                out.samples.push(Sample {
                    name: name.to_string(),
                    labels,
                    value,
                });
            }
            [_, _] => return Err(bad("sample carries a timestamp")),
            _ => return Err(bad("expected one value")),
        }
    }
    Ok(out)
}

#[test]
fn exposition_parser_accepts_good_and_rejects_bad_text() {
    let good = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\\\"\\\\\\n\"} 3\na_total{x=\"2\"} 4\n# TYPE b gauge\nb NaN\nb{y=\"\"} -Inf\n";
    let e = parse(good).unwrap();
    assert_eq!(e.samples.len(), 4);
    assert_eq!(e.samples[0].label("x"), Some("1\"\\\n"));
    for bad in [
        "a 1",                                // no final newline
        "a{x=\"1\"} 1 1700000000\n",          // timestamp
        "a{x=\"\\t\"} 1\n",                   // bad escape
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n",       // duplicate
        "a 1\nb 1\na{x=\"2\"} 1\n",           // not contiguous
        "a{x=\"1} 1\n",                       // unterminated
        "1a 1\n",                             // bad name
        "a x\n",                              // bad value
        "a 1\n# TYPE a gauge\n",              // TYPE after samples
        "a{x=\"1\"\nlivepatch_fake 1\"} 1\n", // broken out of its line
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
