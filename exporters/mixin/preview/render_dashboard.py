#!/usr/bin/env python3
"""Render a Grafana dashboard's panels into one SVG, from a real Prometheus.

Grafana is not needed (and not installable where the project's tests run):
this reads the dashboard JSON, substitutes its template variables the way
Grafana does (``$datasource``, query variables with "All", ``$__interval``,
``$__rate_interval``, ``$__range``), runs every panel's PromQL targets
against a Prometheus HTTP API (``/api/v1/query`` for instant targets,
``/api/v1/query_range`` for the others) and draws the answers with the
panel's own layout (``gridPos``), type, unit, thresholds, legend format and
table transformations (``merge``, ``organize``), in Grafana's dark theme.

It is a *preview*, not a Grafana screenshot: the picture says so in its
caption. What it draws is what the queries returned; panels whose queries
returned nothing say "No data", as Grafana would.

Supported panel types: row, stat, timeseries (lines and stacked bars),
bargauge, gauge (drawn as a bar gauge), piechart, table. Other types are
drawn as an empty panel that names the type.

Python 3 standard library only. Usage::

    render_dashboard.py --prometheus http://127.0.0.1:9090 \\
        --dashboard exporters/mixin/dashboards/livepatch.json \\
        --range 5m --scrape-interval 15s --output dashboard.svg \\
        [--report report.json] [--require-data] [--var instance=host:9977]

Exit status: 0 rendered; 2 bad arguments, unreadable dashboard or an
unreachable Prometheus; 3 rendered, but ``--require-data`` was given and a
target returned no data or an error (the report and stderr name them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

# --------------------------------------------------------------------------
# Theme: Grafana's dark theme (v10), as close as SVG and a fallback font get.

CANVAS = "#111217"
PANEL_BG = "#181b1f"
BORDER = "#2c2f36"  # rgba(204,204,220,0.12) on the canvas
BORDER_WEAK = "#22252b"  # rgba(204,204,220,0.07)
TEXT = "#ccccdc"
TEXT_SECONDARY = "#9d9daa"  # rgba(204,204,220,0.65)
TEXT_WEAK = "#7b7b87"
GRID = "#24272d"
INPUT_BG = "#111217"
FONT = "Inter, Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif"

# Grafana's named colours in the dark theme.
NAMED_COLORS = {
    "green": "#73BF69",
    "semi-dark-green": "#56A64B",
    "dark-green": "#37872D",
    "yellow": "#FADE2A",
    "semi-dark-yellow": "#F2CC0C",
    "dark-yellow": "#E0B400",
    "red": "#F2495C",
    "semi-dark-red": "#E02F44",
    "dark-red": "#C4162A",
    "orange": "#FF9830",
    "semi-dark-orange": "#FF780A",
    "dark-orange": "#FA6400",
    "blue": "#5794F2",
    "semi-dark-blue": "#3274D9",
    "dark-blue": "#1F60C4",
    "purple": "#B877D9",
    "semi-dark-purple": "#A352CC",
    "dark-purple": "#8F3BB8",
    "text": TEXT,
    "transparent": "none",
}

# Grafana's "classic palette" (the default series colours).
CLASSIC_PALETTE = [
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1",
    "#BA43A6", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17",
    "#890F02", "#0A437C", "#6D1F62", "#584477", "#B7DBAB", "#F4D598",
]

# Grafana's defaults when a panel sets no thresholds.
DEFAULT_THRESHOLDS = [{"color": "green", "value": None}, {"color": "red", "value": 80}]

# Grafana's dashboard grid: 24 columns, 30 px rows, 8 px gutters.
GRID_COLUMNS = 24
CELL_HEIGHT = 30
CELL_MARGIN = 8


class RenderError(Exception):
    """A failure that stops the rendering (exit status 2)."""


def luminance(hex_color: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    h = hex_color.lstrip("#")
    if len(h) != 6:
        return 0.0
    chans = []
    for i in (0, 2, 4):
        c = int(h[i:i + 2], 16) / 255
        chans.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * chans[0] + 0.7152 * chans[1] + 0.0722 * chans[2]


def contrast_text(background: str) -> str:
    """Text colour on a coloured background, as Grafana's theme picks it:
    white when it contrasts at least 3:1, else near-black."""
    ratio = 1.05 / (luminance(background) + 0.05)
    return "#ffffff" if ratio >= 3 else "#1e1e1e"


def color(name: str | None) -> str:
    if not name:
        return NAMED_COLORS["green"]
    return NAMED_COLORS.get(name, name)


# --------------------------------------------------------------------------
# Durations and numbers


def parse_duration(text: str) -> float:
    """Prometheus/Grafana duration ("90s", "5m", "1h30m", "500ms") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    text = text.strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 5m, 1h)")
    return sum(float(n) * units[u] for n, u in parts)


def prom_duration(seconds: float) -> str:
    """A duration for PromQL: whole seconds when possible, else milliseconds."""
    if seconds >= 1 and abs(seconds - round(seconds)) < 1e-9:
        return f"{int(round(seconds))}s"
    return f"{max(1, int(round(seconds * 1000)))}ms"


def round_interval(seconds: float) -> float:
    """Grafana's rangeutil.roundInterval: a raw interval snapped to a nice one."""
    ms = seconds * 1000
    table = [
        (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
        (1500, 1000), (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000),
        (25000, 20000), (45000, 30000), (90000, 60000), (210000, 120000),
        (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
        (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
        (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    ]
    for limit, value in table:
        if ms < limit:
            return value / 1000
    return 86400.0


def auto_decimals(value: float) -> int:
    """Grafana's getDecimalsForValue: about two significant digits."""
    if value == 0 or not math.isfinite(value):
        return 0
    if float(value).is_integer():
        return 0
    log10 = math.floor(math.log10(abs(value)))
    dec = -log10 + 1
    magn = 10 ** -dec
    norm = abs(value) / magn
    if norm > 2.25:
        dec += 1
    return max(0, dec)


def fixed(value: float, decimals: int | None = None) -> str:
    if decimals is None:
        decimals = auto_decimals(value)
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    """A value as Grafana's value formats show it, for the units used here."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    unit = unit or "none"
    if unit == "percentunit":
        return fixed(value * 100, decimals) + "%"
    if unit == "percent":
        return fixed(value, decimals) + "%"
    if unit in ("s", "ms", "µs", "ns"):
        scale = {"s": 1, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[unit]
        return format_seconds(value * scale, decimals)
    if unit == "short":
        for div, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " Mil"), (1e3, " K")):
            if abs(value) >= div:
                return fixed(value / div, decimals) + suffix
        return fixed(value, decimals)
    return fixed(value, decimals)


def format_seconds(value: float, decimals: int | None = None) -> str:
    a = abs(value)
    if a == 0:
        return "0 s"
    for limit, div, suffix in (
        (1e-6, 1e-9, " ns"), (1e-3, 1e-6, " µs"), (1, 1e-3, " ms"), (60, 1, " s"),
        (3600, 60, " min"), (86400, 3600, " hour"), (604800, 86400, " day"),
    ):
        if a < limit:
            return fixed(value / div, decimals) + suffix
    return fixed(value / 604800, decimals) + " week"


def nice_step(raw: float) -> float:
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    base = 10 ** exp
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * base + 1e-12:
            return m * base
    return 10 * base


# --------------------------------------------------------------------------
# Text


def clean_text(text: str) -> str:
    """Text safe for XML 1.0 and for a reader: control characters (a thread
    name can hold terminal escapes) become visible \\xNN escapes."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def esc(text: str) -> str:
    t = clean_text(text)
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# Approximate advance widths (in em) of a sans-serif font, generous enough
# for DejaVu Sans (the widest fallback) so text is cut before it overflows.
_NARROW = set("iljI.,:;'|!` ()[]{}/\\-")
_WIDE = set("mwMW@%")


def text_width(text: str, size: float, bold: bool = False) -> float:
    total = 0.0
    for ch in clean_text(text):
        if ch in _NARROW:
            total += 0.34
        elif ch in _WIDE:
            total += 0.9
        elif ch.isupper() or ch.isdigit():
            total += 0.66
        else:
            total += 0.58
    return total * size * (1.06 if bold else 1.0)


def fit(text: str, size: float, width: float, bold: bool = False) -> str:
    """The text, cut with an ellipsis to fit width."""
    text = clean_text(text)
    if text_width(text, size, bold) <= width:
        return text
    while text and text_width(text + "…", size, bold) > width:
        text = text[:-1]
    return text + "…" if text else ""


# --------------------------------------------------------------------------
# Prometheus


class Prometheus:
    """A small client for Prometheus's HTTP API."""

    def __init__(self, url: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, params: list[tuple[str, str]]) -> object:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            # Prometheus answers bad queries with 400 and a JSON error.
            try:
                body = json.load(e)
            except (ValueError, OSError):
                raise QueryError(f"HTTP {e.code} from {path}") from None
        except (urllib.error.URLError, OSError) as e:
            why = e.reason if isinstance(e, urllib.error.URLError) else e
            raise RenderError(
                f"cannot reach Prometheus at {self.url} ({why}); is it running, and is --prometheus right?"
            ) from None
        except ValueError as e:
            raise QueryError(f"{path}: answer is not JSON: {e}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error", "unknown error") if isinstance(body, dict) else "bad answer"
            raise QueryError(str(err))
        return body.get("data")

    def build_version(self) -> str | None:
        try:
            data = self.get("/api/v1/status/buildinfo", [])
        except QueryError:
            return None
        return data.get("version") if isinstance(data, dict) else None

    def label_values(self, label: str, match: str | None) -> list[str]:
        params = [("match[]", match)] if match else []
        data = self.get(f"/api/v1/label/{urllib.parse.quote(label)}/values", params)
        return [str(v) for v in data] if isinstance(data, list) else []

    def instant(self, expr: str, at: float) -> list["Series"]:
        data = self.get("/api/v1/query", [("query", expr), ("time", f"{at:.3f}")])
        return parse_result(data)

    def range(self, expr: str, start: float, end: float, step: float) -> list["Series"]:
        data = self.get(
            "/api/v1/query_range",
            [("query", expr), ("start", f"{start:.3f}"), ("end", f"{end:.3f}"), ("step", prom_duration(step))],
        )
        return parse_result(data)


class QueryError(Exception):
    """Prometheus rejected a query; shown on the panel, not fatal."""


@dataclass
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]
    ref_id: str = "A"
    name: str = ""


def parse_result(data: object) -> list[Series]:
    if not isinstance(data, dict):
        raise QueryError("answer without data")
    kind = data.get("resultType")
    result = data.get("result")
    out: list[Series] = []
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [Series({}, [(float(result[0]), float(result[1]))])]
    if not isinstance(result, list):
        raise QueryError(f"unexpected result type {kind!r}")
    for item in result:
        metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        if "value" in item:
            pts = [item["value"]]
        else:
            pts = item.get("values") or []
        out.append(Series(metric, [(float(t), float(v)) for t, v in pts]))
    return out


# --------------------------------------------------------------------------
# Template variables


_VAR_RE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")


def regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape for multi-value variables."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


@dataclass
class Variable:
    name: str
    label: str
    text: str  # what the variable bar shows
    value: str  # what a query gets


def resolve_variables(dashboard: dict, prom: Prometheus, overrides: dict[str, str]) -> list[Variable]:
    """Each templating variable's value: an override from --var, else what
    Grafana selects by default (the first data source; "All" for a variable
    that includes All, else its first value)."""
    out = []
    for v in (dashboard.get("templating") or {}).get("list") or []:
        name = str(v.get("name", ""))
        label = str(v.get("label") or name)
        kind = v.get("type")
        if name in overrides:
            val = overrides[name]
            out.append(Variable(name, label, val, val))
            continue
        if kind == "datasource":
            out.append(Variable(name, label, "Prometheus", "prometheus"))
        elif kind == "query":
            query = v.get("query")
            qtext = query.get("query") if isinstance(query, dict) else query
            qtext = str(qtext or v.get("definition") or "")
            values: list[str] = []
            m = re.fullmatch(r"\s*label_values\((?:(.+),)?\s*(\w+)\s*\)\s*", qtext)
            if m:
                values = prom.label_values(m.group(2), m.group(1).strip() if m.group(1) else None)
            if v.get("includeAll"):
                all_value = v.get("allValue")
                if all_value:
                    value = str(all_value)
                else:
                    value = "(" + "|".join(regex_escape(x) for x in values) + ")" if values else ".*"
                out.append(Variable(name, label, "All", value))
            elif values:
                first = values[0]
                out.append(Variable(name, label, first, regex_escape(first) if v.get("multi") else first))
            else:
                out.append(Variable(name, label, "", ""))
        else:
            cur = v.get("current") or {}
            val = str(cur.get("value") or v.get("query") or "")
            out.append(Variable(name, label, str(cur.get("text") or val), val))
    return out


def interpolate(expr: str, values: dict[str, str]) -> str:
    """Replace $name, ${name}, ${name:fmt} and [[name]] as Grafana does;
    unknown names stay as they are."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        return values.get(name, m.group(0))

    return _VAR_RE.sub(repl, expr)


# --------------------------------------------------------------------------
# Queries per panel


@dataclass
class TargetResult:
    ref_id: str
    expr: str
    instant: bool
    series: list[Series] = field(default_factory=list)
    error: str | None = None

    @property
    def points(self) -> int:
        return sum(len(s.points) for s in self.series)


@dataclass
class Context:
    prom: Prometheus
    start: float
    end: float
    scrape_interval: float
    variables: dict[str, str]


def legend_name(fmt: str | None, labels: dict[str, str], expr: str) -> str:
    """Grafana's series name: the legend format with {{label}} filled in, or
    metric{labels} when there is none."""
    if fmt and fmt != "__auto":
        return re.sub(r"\{\{\s*(.+?)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    name = labels.get("__name__", "")
    rest = [f'{k}="{v}"' for k, v in labels.items() if k != "__name__"]
    if not name and not rest:
        return expr
    return name + ("{" + ", ".join(rest) + "}" if rest else "")


def run_panel(panel: dict, ctx: Context, width_px: float) -> list[TargetResult]:
    """Run a panel's targets the way Grafana would for its width."""
    rng = max(1.0, ctx.end - ctx.start)
    min_interval = ctx.scrape_interval
    if panel.get("interval"):
        try:
            min_interval = parse_duration(interpolate(str(panel["interval"]), ctx.variables).lstrip(">"))
        except ValueError:
            pass
    max_points = panel.get("maxDataPoints") or max(100, int(width_px))
    interval = max(round_interval(rng / max_points), min_interval)
    rate_interval = max(interval + ctx.scrape_interval, 4 * ctx.scrape_interval)
    values = dict(ctx.variables)
    values.update({
        "__interval": prom_duration(interval),
        "__interval_ms": str(int(interval * 1000)),
        "__rate_interval": prom_duration(rate_interval),
        "__rate_interval_ms": str(int(rate_interval * 1000)),
        "__range": prom_duration(round(rng)),
        "__range_s": str(int(round(rng))),
        "__range_ms": str(int(round(rng * 1000))),
    })
    out = []
    for t in panel.get("targets") or []:
        if t.get("hide") or "expr" not in t:
            continue
        ref = str(t.get("refId") or "A")
        expr = interpolate(str(t["expr"]), values)
        instant = bool(t.get("instant")) and not t.get("range")
        res = TargetResult(ref, expr, instant)
        try:
            if instant:
                res.series = ctx.prom.instant(expr, ctx.end)
            else:
                res.series = ctx.prom.range(expr, ctx.start, ctx.end, interval)
        except QueryError as e:
            res.error = str(e)
        for s in res.series:
            s.ref_id = ref
            s.name = legend_name(t.get("legendFormat"), s.labels, expr)
        out.append(res)
    return out


# --------------------------------------------------------------------------
# Tables: Grafana's Prometheus table format and its transformations


@dataclass
class Frame:
    fields: list[str]
    rows: list[dict[str, object]]


def table_frames(results: list[TargetResult]) -> list[Frame]:
    """One frame per target, as Grafana's Prometheus data source builds them
    for format "table": Time, the labels (sorted, __name__ included), then
    "Value" (one target) or "Value #<refId>"."""
    frames = []
    for r in results:
        value_name = "Value" if len(results) == 1 else f"Value #{r.ref_id}"
        labels: list[str] = []
        for s in r.series:
            for k in sorted(s.labels):
                if k not in labels:
                    labels.append(k)
        rows = []
        for s in r.series:
            for t, v in s.points:
                row: dict[str, object] = {"Time": t}
                for k in labels:
                    row[k] = s.labels.get(k, "")
                row[value_name] = v
                rows.append(row)
        frames.append(Frame(["Time", *labels, value_name], rows))
    return frames


def merge_frames(frames: list[Frame]) -> list[Frame]:
    """Grafana's "merge" transformation: rows whose fields present in every
    frame are equal are joined, unless a value they both carry differs."""
    frames = [f for f in frames if f.fields]
    if len(frames) <= 1:
        return frames
    names: list[str] = []
    for f in frames:
        for n in f.fields:
            if n not in names:
                names.append(n)
    key_fields = [n for n in names if all(n in f.fields for f in frames)]
    if not key_fields:
        return frames
    by_key: dict[str, list[dict[str, object]]] = {}
    order: list[tuple[str, int]] = []
    for f in frames:
        for row in f.rows:
            key = "\x00".join(str(row.get(k)) for k in key_fields)
            existing = by_key.get(key)
            if existing is None:
                by_key[key] = [dict(row)]
                order.append((key, 0))
                continue
            merged = False
            for i, e in enumerate(existing):
                if all(e.get(p) is None or e.get(p) == v for p, v in row.items()):
                    existing[i] = {**e, **row}
                    merged = True
            if not merged:
                existing.append(dict(row))
                order.append((key, len(existing) - 1))
    return [Frame(names, [by_key[k][i] for k, i in order])]


def organize(frame: Frame, options: dict) -> Frame:
    """Grafana's "organize" transformation: exclude, reorder, rename."""
    exclude = options.get("excludeByName") or {}
    index = options.get("indexByName") or {}
    rename = options.get("renameByName") or {}
    kept = [n for n in frame.fields if not exclude.get(n)]
    if index:
        kept.sort(key=lambda n: index.get(n, len(index) + frame.fields.index(n)))
    renamed = [rename.get(n) or n for n in kept]
    rows = [{rename.get(n) or n: row.get(n) for n in kept} for row in frame.rows]
    return Frame(renamed, rows)


def apply_transformations(frames: list[Frame], transformations: list[dict]) -> list[Frame]:
    for tr in transformations or []:
        if tr.get("disabled"):
            continue
        tid = tr.get("id")
        if tid == "merge":
            frames = merge_frames(frames)
        elif tid == "organize":
            frames = [organize(f, tr.get("options") or {}) for f in frames]
    return frames


# --------------------------------------------------------------------------
# Field config helpers


def field_defaults(panel: dict) -> dict:
    return ((panel.get("fieldConfig") or {}).get("defaults")) or {}


def thresholds_of(panel: dict) -> list[dict]:
    th = field_defaults(panel).get("thresholds") or {}
    steps = th.get("steps") or DEFAULT_THRESHOLDS
    return steps


def threshold_color(steps: list[dict], value: float | None) -> str:
    col = steps[0].get("color") if steps else "green"
    if value is None:
        return color(col)
    for s in steps:
        if s.get("value") is None or value >= float(s["value"]):
            col = s.get("color")
    return color(col)


def override_unit(panel: dict, column: str) -> str | None:
    unit = field_defaults(panel).get("unit")
    for o in (panel.get("fieldConfig") or {}).get("overrides") or []:
        m = o.get("matcher") or {}
        hit = False
        if m.get("id") == "byName" and m.get("options") == column:
            hit = True
        elif m.get("id") == "byRegexp":
            try:
                hit = re.fullmatch(str(m.get("options")), column) is not None
            except re.error:
                hit = False
        if hit:
            for p in o.get("properties") or []:
                if p.get("id") == "unit":
                    unit = p.get("value")
    return unit


def reduce_last(s: Series) -> float | None:
    for _, v in reversed(s.points):
        if not math.isnan(v):
            return v
    return None


# --------------------------------------------------------------------------
# SVG drawing


class Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.defs: list[str] = []
        self._ids = 0

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x, y, s, size=12, fill=TEXT, anchor="start", weight=None, extra=""):
        w = f' font-weight="{weight}"' if weight else ""
        a = f' text-anchor="{anchor}"' if anchor != "start" else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" fill="{fill}"{a}{w}{extra}>{esc(s)}</text>')

    def rect(self, x, y, w, h, fill, stroke=None, rx=0, extra=""):
        st = f' stroke="{stroke}"' if stroke else ""
        r = f' rx="{rx:g}"' if rx else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(0, w):.1f}" height="{max(0, h):.1f}" fill="{fill}"{st}{r}{extra}/>')

    def line(self, x1, y1, x2, y2, stroke, width=1, extra=""):
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" stroke-width="{width:g}"{extra}/>')


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float


def draw_panel_frame(svg: Svg, panel: dict, box: Box, background: str = PANEL_BG, title_fill: str = TEXT) -> Box:
    """Panel background, border and title; returns the content box."""
    svg.rect(box.x, box.y, box.w, box.h, background, BORDER, rx=2)
    title = str(panel.get("title") or "")
    # Grafana also shows an (i) icon for the description; without the real
    # font its place after the title cannot be known, so it is left out.
    if title:
        svg.text(box.x + 8, box.y + 21, fit(title, 14, box.w - 16, True), size=14, fill=title_fill, weight="500")
    return Box(box.x + 8, box.y + 32, box.w - 16, box.h - 40)


def no_data(svg: Svg, content: Box, text: str = "No data") -> None:
    svg.text(content.x + content.w / 2, content.y + content.h / 2 + 6, text, size=16, fill=TEXT_SECONDARY, anchor="middle")


def error_corner(svg: Svg, box: Box, message: str) -> None:
    x, y = box.x, box.y
    svg.add(f'<path d="M{x:.1f},{y:.1f} h28 l-28,28 z" fill="#D10E5C"><title>{esc(message)}</title></path>')
    svg.text(x + 8, y + 15, "!", size=13, fill="#ffffff", weight="700")


def draw_stat(svg: Svg, panel: dict, box: Box, results: list[TargetResult]) -> None:
    opts = panel.get("options") or {}
    unit = field_defaults(panel).get("unit")
    steps = thresholds_of(panel)
    series = [s for r in results for s in r.series]
    values = [(s, reduce_last(s)) for s in series]
    background = opts.get("colorMode") == "background" and len(values) == 1
    ink = TEXT
    if background:
        col = threshold_color(steps, values[0][1])
        gid = svg.new_id("statbg")
        svg.defs.append(
            f'<linearGradient id="{gid}" x1="0" y1="0" x2="1" y2="1">'
            f'<stop offset="0" stop-color="{col}" stop-opacity="1"/>'
            f'<stop offset="1" stop-color="{col}" stop-opacity="0.78"/></linearGradient>'
        )
        svg.rect(box.x, box.y, box.w, box.h, CANVAS, rx=2)
        ink = contrast_text(col)
        content = draw_panel_frame(svg, panel, box, background=f"url(#{gid})", title_fill=ink)
    else:
        content = draw_panel_frame(svg, panel, box)
    if not values:
        no_data(svg, content)
        return
    n = len(values)
    cell_w = content.w / n
    for i, (s, v) in enumerate(values):
        text = format_value(v, unit, field_defaults(panel).get("decimals"))
        cx = content.x + cell_w * i + cell_w / 2
        size = min(content.h * 0.72, (cell_w - 8) / max(1.0, text_width(text, 1, True)), 64)
        fill = ink if background else threshold_color(steps, v)
        cy = content.y + content.h / 2 + size * 0.36
        if n > 1 and s.name:
            svg.text(cx, content.y + 12, fit(s.name, 12, cell_w - 4), size=12, fill=TEXT_SECONDARY, anchor="middle")
            cy += 6
        svg.text(cx, cy, text, size=round(size, 1), fill=fill, anchor="middle", weight="500")


def draw_bargauge(svg: Svg, panel: dict, box: Box, results: list[TargetResult]) -> None:
    content = draw_panel_frame(svg, panel, box)
    d = field_defaults(panel)
    opts = panel.get("options") or {}
    unit = d.get("unit")
    steps = thresholds_of(panel)
    vals = [(s.name, reduce_last(s)) for r in results for s in r.series]
    if not vals:
        no_data(svg, content)
        return
    nums = [v for _, v in vals if v is not None]
    lo = d.get("min")
    hi = d.get("max")
    lo = float(lo) if lo is not None else min(0.0, min(nums, default=0.0))
    hi = float(hi) if hi is not None else max(nums, default=1.0)
    if hi <= lo:
        hi = lo + 1
    mode = opts.get("displayMode", "gradient")
    # Bars share the height, as Grafana's auto sizing does (up to its
    # default maxVizHeight of 300 px).
    row_h = min(content.h / len(vals), 300)
    name_size = 12 if row_h >= 34 else 10
    value_texts = [format_value(v, unit, d.get("decimals")) for _, v in vals]
    bar_h_guess = max(8.0, row_h - name_size - 10)
    value_size = max(10.0, min(24.0, bar_h_guess * 0.7))
    value_w = max(text_width(t, value_size, True) for t in value_texts) + 12
    for i, ((name, v), vt) in enumerate(zip(vals, value_texts)):
        top = content.y + i * row_h
        svg.text(content.x, top + name_size + 1, fit(name, name_size, content.w), size=name_size, fill=TEXT)
        by = top + name_size + 5
        bh = max(6.0, row_h - name_size - 10)
        bw = content.w - value_w
        frac = 0.0 if v is None else max(0.0, min(1.0, (v - lo) / (hi - lo)))
        col = threshold_color(steps, v)
        svg.rect(content.x, by, bw, bh, "#1f2227", rx=2)  # the unfilled part
        if mode == "gradient":
            gid = svg.new_id("bar")
            stops = []
            for s in steps:
                pos = 0.0 if s.get("value") is None else (float(s["value"]) - lo) / (hi - lo)
                pos = max(0.0, min(1.0, pos))
                stops.append(f'<stop offset="{pos:.3f}" stop-color="{color(s.get("color"))}"/>')
            svg.defs.append(
                f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" x1="{content.x:.1f}" y1="0" '
                f'x2="{content.x + bw:.1f}" y2="0">{"".join(stops)}</linearGradient>'
            )
            svg.rect(content.x, by, bw * frac, bh, f"url(#{gid})", rx=2, extra=' fill-opacity="0.9"')
        else:
            svg.rect(content.x, by, bw * frac, bh, col, rx=2, extra=' fill-opacity="0.35"')
            if frac > 0:
                svg.line(content.x + bw * frac - 1, by, content.x + bw * frac - 1, by + bh, col, 2)
        svg.text(content.x + content.w, by + bh / 2 + value_size * 0.36, vt, size=round(value_size, 1),
                 fill=col, anchor="end", weight="500")


def draw_piechart(svg: Svg, panel: dict, box: Box, results: list[TargetResult]) -> None:
    content = draw_panel_frame(svg, panel, box)
    unit = field_defaults(panel).get("unit")
    vals = [(s.name, reduce_last(s) or 0.0) for r in results for s in r.series]
    total = sum(v for _, v in vals if v > 0)
    if not vals or total <= 0:
        no_data(svg, content)
        return
    opts = panel.get("options") or {}
    legend = opts.get("legend") or {}
    legend_w = 0.0
    if legend.get("placement", "right") == "right" and legend.get("showLegend", True):
        legend_w = min(content.w * 0.5, max(text_width(n, 12) for n, _ in vals) + 90)
    pie_w = content.w - legend_w
    r = max(10.0, min(pie_w, content.h) / 2 - 6)
    cx = content.x + pie_w / 2
    cy = content.y + content.h / 2
    inner = r * 0.6 if opts.get("pieType") == "donut" else 0
    angle = -math.pi / 2
    for i, (name, v) in enumerate(vals):
        if v <= 0:
            continue
        col = CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]
        sweep = 2 * math.pi * v / total
        if sweep >= 2 * math.pi - 1e-6:
            # A full ring: two half arcs (one arc cannot start and end at one point).
            svg.add(
                f'<path d="M{cx - r:.1f},{cy:.1f} a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0 a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0 z'
                + (f' M{cx - inner:.1f},{cy:.1f} a{inner:.1f},{inner:.1f} 0 1,1 {2 * inner:.1f},0 a{inner:.1f},{inner:.1f} 0 1,1 {-2 * inner:.1f},0 z' if inner else "")
                + f'" fill="{col}" fill-rule="evenodd"/>'
            )
        else:
            a0, a1 = angle, angle + sweep
            large = 1 if sweep > math.pi else 0
            p = [f"M{cx + r * math.cos(a0):.2f},{cy + r * math.sin(a0):.2f}",
                 f"A{r:.1f},{r:.1f} 0 {large},1 {cx + r * math.cos(a1):.2f},{cy + r * math.sin(a1):.2f}"]
            if inner:
                p += [f"L{cx + inner * math.cos(a1):.2f},{cy + inner * math.sin(a1):.2f}",
                      f"A{inner:.1f},{inner:.1f} 0 {large},0 {cx + inner * math.cos(a0):.2f},{cy + inner * math.sin(a0):.2f}"]
            else:
                p.append(f"L{cx:.1f},{cy:.1f}")
            svg.add(f'<path d="{" ".join(p)} Z" fill="{col}" stroke="{PANEL_BG}" stroke-width="1"/>')
        angle += sweep
    if legend_w:
        lx = content.x + pie_w + 8
        ly = content.y + max(0.0, content.h / 2 - (len(vals) + 1) * 11)
        svg.text(content.x + content.w, ly + 12, "Value", size=12, fill=TEXT_SECONDARY, anchor="end", weight="500")
        for i, (name, v) in enumerate(vals):
            y = ly + 34 + i * 22
            col = CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]
            svg.rect(lx, y - 6, 14, 4, col, rx=1)
            svg.text(lx + 20, y, fit(name, 12, legend_w - 80), size=12, fill=TEXT)
            svg.text(content.x + content.w, y, format_value(v, unit), size=12, fill=TEXT, anchor="end")


def draw_table(svg: Svg, panel: dict, box: Box, results: list[TargetResult]) -> None:
    content = draw_panel_frame(svg, panel, box)
    frames = apply_transformations(table_frames(results), panel.get("transformations") or [])
    frame = frames[0] if frames else Frame([], [])
    columns = [c for c in frame.fields]
    if not frame.rows or not columns:
        no_data(svg, content)
        return
    col_w = content.w / len(columns)
    row_h = 36.0
    numeric = {c: all(isinstance(r.get(c), (int, float)) or r.get(c) in (None, "") for r in frame.rows)
               and any(isinstance(r.get(c), (int, float)) for r in frame.rows) for c in columns}
    # Header
    svg.line(content.x, content.y + row_h, content.x + content.w, content.y + row_h, BORDER, 1)
    for j, c in enumerate(columns):
        x0 = content.x + j * col_w
        if numeric[c]:
            svg.text(x0 + col_w - 8, content.y + 23, fit(c, 13, col_w - 16, True), size=13, fill=TEXT, anchor="end", weight="500")
        else:
            svg.text(x0 + 8, content.y + 23, fit(c, 13, col_w - 16, True), size=13, fill=TEXT, weight="500")
    max_rows = int((content.h - row_h) // row_h)
    for i, row in enumerate(frame.rows[:max(0, max_rows)]):
        y = content.y + row_h * (i + 1)
        if i % 2 == 1:
            svg.rect(content.x, y, content.w, row_h, "#1c1f24")
        svg.line(content.x, y + row_h, content.x + content.w, y + row_h, BORDER_WEAK, 1)
        for j, c in enumerate(columns):
            x0 = content.x + j * col_w
            v = row.get(c)
            if isinstance(v, (int, float)):
                unit = override_unit(panel, c)
                if c == "Time":
                    txt = dt.datetime.fromtimestamp(float(v), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                else:
                    txt = format_value(float(v), unit)
            else:
                txt = "" if v is None else str(v)
            if numeric[c]:
                svg.text(x0 + col_w - 8, y + 23, fit(txt, 13, col_w - 16), size=13, fill=TEXT, anchor="end")
            else:
                svg.text(x0 + 8, y + 23, fit(txt, 13, col_w - 16), size=13, fill=TEXT)
    hidden = len(frame.rows) - max(0, max_rows)
    if hidden > 0:
        svg.text(content.x + content.w, content.y + content.h + 4, f"{hidden} more row{'s' if hidden > 1 else ''} (scroll in Grafana)",
                 size=11, fill=TEXT_WEAK, anchor="end")


def time_ticks(start: float, end: float, width: float) -> tuple[list[float], str]:
    rng = end - start
    want = max(2, int(width // 90))
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if rng / step <= want:
            break
    first = math.ceil(start / step) * step
    ticks = []
    t = first
    while t <= end + 1e-9:
        ticks.append(t)
        t += step
    fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    return ticks, fmt


def value_ticks(lo: float, hi: float, height: float) -> tuple[float, float, list[float], int]:
    want = max(2, int(height // 34))
    step = nice_step((hi - lo) / want)
    lo2 = math.floor(lo / step + 1e-9) * step
    hi2 = math.ceil(hi / step - 1e-9) * step
    if hi2 <= lo2:
        hi2 = lo2 + step
    ticks = []
    n = int(round((hi2 - lo2) / step))
    for i in range(n + 1):
        ticks.append(lo2 + i * step)
    dec = 0
    while dec < 10 and abs(round(step, dec) - step) > step * 1e-6:
        dec += 1
    return lo2, hi2, ticks, dec


def draw_timeseries(svg: Svg, panel: dict, box: Box, results: list[TargetResult], ctx: Context) -> None:
    content = draw_panel_frame(svg, panel, box)
    d = field_defaults(panel)
    custom = d.get("custom") or {}
    unit = d.get("unit")
    series = [s for r in results for s in r.series if s.points]
    if not series:
        no_data(svg, content)
        return
    # Legend (list mode, at the bottom), laid out first to know its height.
    legend_items = []
    lx, lrows = 0.0, 1
    for i, s in enumerate(series):
        w = 20 + text_width(s.name, 12) + 16
        if lx + w > content.w and lx > 0:
            lrows += 1
            lx = 0
        legend_items.append((lrows - 1, lx, s, CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]))
        lx += w
    lrows = min(lrows, 4)
    legend_h = lrows * 19 + 4
    bars = custom.get("drawStyle") == "bars"
    stacked = (custom.get("stacking") or {}).get("mode") == "normal"
    # Value range
    all_vals = [v for s in series for _, v in s.points if math.isfinite(v)]
    if bars and stacked:
        sums: dict[float, float] = {}
        for s in series:
            for t, v in s.points:
                if math.isfinite(v):
                    sums[t] = sums.get(t, 0.0) + v
        all_vals += list(sums.values())
    dmin, dmax = (min(all_vals), max(all_vals)) if all_vals else (0.0, 1.0)
    if bars:
        dmin = min(dmin, 0.0)
    lo = d.get("min")
    hi = d.get("max")
    if lo is None:
        # Like uPlot's soft range: 10 % padding, not below zero for data
        # that is never negative.
        lo = dmin - (dmax - dmin) * 0.1
        if dmin >= 0:
            lo = max(0.0, lo)
    if hi is None:
        hi = dmax + (dmax - dmin) * 0.1
    lo, hi = float(lo), float(hi)
    if hi <= lo:
        hi = lo + (abs(lo) * 0.2 if lo else 1.0)
    plot_top = content.y + 10
    plot_bottom = content.y + content.h - legend_h - 20
    lo, hi, yt, dec = value_ticks(lo, hi, plot_bottom - plot_top)
    if d.get("max") is not None:
        hi = float(d["max"])
        yt = [t for t in yt if t <= hi + 1e-12]
    labels = [format_value(t, unit, dec if unit in (None, "none", "short") else None) for t in yt]
    axis_w = max(text_width(t, 12) for t in labels) + 8
    plot_left = content.x + axis_w
    plot_right = content.x + content.w - 4
    pw = plot_right - plot_left
    ph = plot_bottom - plot_top

    def X(t: float) -> float:
        return plot_left + (t - ctx.start) / (ctx.end - ctx.start) * pw

    def Y(v: float) -> float:
        return plot_bottom - (v - lo) / (hi - lo) * ph

    for t, lab in zip(yt, labels):
        y = Y(t)
        svg.line(plot_left, y, plot_right, y, GRID, 1)
        svg.text(plot_left - 6, y + 4, lab, size=12, fill=TEXT_SECONDARY, anchor="end")
    xt, fmt = time_ticks(ctx.start, ctx.end, pw)
    for t in xt:
        x = X(t)
        if x < plot_left - 0.5 or x > plot_right + 0.5:
            continue
        svg.line(x, plot_top, x, plot_bottom, GRID, 1)
        lab = dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(fmt)
        half = text_width(lab, 12) / 2
        if x - half >= plot_left - 2 and x + half <= plot_right + 2:
            svg.text(x, plot_bottom + 15, lab, size=12, fill=TEXT_SECONDARY, anchor="middle")
    clip = svg.new_id("plot")
    svg.defs.append(f'<clipPath id="{clip}"><rect x="{plot_left:.1f}" y="{plot_top - 2:.1f}" width="{pw:.1f}" height="{ph + 3:.1f}"/></clipPath>')
    svg.add(f'<g clip-path="url(#{clip})">')
    steps = sorted({t for s in series for t, _ in s.points})
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    step = min(gaps) if gaps else (ctx.end - ctx.start) / 100
    line_w = custom.get("lineWidth", 1)
    fill_op = custom.get("fillOpacity", 0) / 100
    if bars:
        bar_w = max(1.0, min(200.0, step / (ctx.end - ctx.start) * pw * 0.6))
        base: dict[float, float] = {}
        for i, s in enumerate(series):
            col = CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]
            for t, v in s.points:
                if not math.isfinite(v):
                    continue
                b = base.get(t, 0.0) if stacked else 0.0
                top = b + v
                if stacked:
                    base[t] = top
                y0, y1 = Y(b), Y(top)
                x = X(t) - bar_w / 2
                svg.add(f'<rect x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar_w:.1f}" height="{abs(y0 - y1):.2f}" '
                        f'fill="{col}" fill-opacity="{fill_op:.2f}" stroke="{col}" stroke-width="{line_w:g}"/>')
    else:
        for i, s in enumerate(series):
            col = CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]
            # Split where a sample is missing (Grafana leaves a gap there).
            segments: list[list[tuple[float, float]]] = [[]]
            prev = None
            for t, v in s.points:
                if not math.isfinite(v) or (prev is not None and t - prev > step * 1.5):
                    if segments[-1]:
                        segments.append([])
                if math.isfinite(v):
                    segments[-1].append((t, v))
                prev = t
            zero = Y(max(lo, min(0.0, hi)))
            for seg in segments:
                if not seg:
                    continue
                pts = " ".join(f"{X(t):.1f},{Y(v):.1f}" for t, v in seg)
                if fill_op > 0:
                    poly = f"{X(seg[0][0]):.1f},{zero:.1f} {pts} {X(seg[-1][0]):.1f},{zero:.1f}"
                    svg.add(f'<polygon points="{poly}" fill="{col}" fill-opacity="{fill_op:.2f}"/>')
                if len(seg) == 1:
                    svg.add(f'<circle cx="{X(seg[0][0]):.1f}" cy="{Y(seg[0][1]):.1f}" r="2" fill="{col}"/>')
                else:
                    svg.add(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="{line_w:g}" stroke-linejoin="round"/>')
    svg.add("</g>")
    ly0 = plot_bottom + 24
    for row, x, s, col in legend_items:
        if row >= lrows:
            continue
        y = ly0 + row * 19 + 10
        svg.rect(content.x + x, y - 6, 14, 4, col, rx=1)
        svg.text(content.x + x + 20, y, fit(s.name, 12, content.w - x - 20), size=12, fill=TEXT)


def draw_row(svg: Svg, panel: dict, box: Box) -> None:
    y = box.y + box.h / 2
    x = box.x + 2
    svg.add(f'<path d="M{x:.1f},{y - 3:.1f} l5,5 l5,-5" fill="none" stroke="{TEXT}" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/>')
    svg.text(x + 18, y + 6, str(panel.get("title") or ""), size=16, fill=TEXT, weight="500")


# --------------------------------------------------------------------------
# The dashboard


def humanize_range(seconds: float) -> str:
    s = int(round(seconds))
    for div, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if s >= div and s % div == 0:
            n = s // div
            return f"Last {n} {unit}{'s' if n != 1 else ''}"
    return f"Last {s} seconds"


def draw_header(svg: Svg, dash: dict, width: float, variables: list[Variable], range_text: str) -> float:
    """Grafana's top bar and variable bar; returns where the grid starts."""
    svg.rect(0, 0, width, 48, PANEL_BG)
    svg.line(0, 48, width, 48, BORDER, 1)
    # The Grafana mark is not drawn: this is not Grafana.
    svg.text(16, 30, "Dashboards", size=14, fill=TEXT_SECONDARY)
    x = 16 + text_width("Dashboards", 14) + 8
    svg.text(x, 30, "›", size=14, fill=TEXT_SECONDARY)
    title = str(dash.get("title") or "Dashboard")
    svg.text(x + 14, 30, title, size=14, fill=TEXT, weight="500")
    # Say what this is where a cropped picture still shows it.
    tag = "preview from Prometheus data, not a Grafana screenshot"
    tx = x + 14 + text_width(title, 14, True) + 14
    svg.rect(tx, 15, text_width(tag, 11) + 14, 20, "none", BORDER, rx=10)
    svg.text(tx + 7, 29, tag, size=11, fill=TEXT_SECONDARY)
    # Time picker and refresh on the right.
    label = f"{range_text}  UTC"
    tw = text_width(label, 13) + 40
    tx = width - 16 - tw
    svg.rect(tx, 9, tw, 30, INPUT_BG, BORDER, rx=2)
    cx, cy = tx + 16, 24
    svg.add(f'<circle cx="{cx}" cy="{cy}" r="6" fill="none" stroke="{TEXT_SECONDARY}" stroke-width="1.3"/>'
            f'<path d="M{cx},{cy - 3.5} v3.5 h2.5" fill="none" stroke="{TEXT_SECONDARY}" stroke-width="1.3"/>')
    svg.text(tx + 28, 29, label, size=13, fill=TEXT)
    # Variables.
    x = 16
    y = 60
    for v in variables:
        lw = text_width(v.label, 13) + 20
        vw = max(60.0, text_width(v.text, 13) + 36)
        svg.rect(x, y, lw, 32, "#22252b", BORDER, rx=2)
        svg.text(x + 10, y + 21, v.label, size=13, fill=TEXT, weight="500")
        svg.rect(x + lw, y, vw, 32, INPUT_BG, BORDER, rx=2)
        svg.text(x + lw + 10, y + 21, fit(v.text, 13, vw - 30), size=13, fill=TEXT)
        ax, ay = x + lw + vw - 16, y + 14
        svg.add(f'<path d="M{ax - 4:.1f},{ay:.1f} l4,4 l4,-4" fill="none" stroke="{TEXT_SECONDARY}" stroke-width="1.4"/>')
        x += lw + vw + 8
    return y + 32 + 16


def panel_box(panel: dict, width: float, top: float) -> Box:
    g = panel.get("gridPos") or {}
    col_w = (width - 32 + CELL_MARGIN) / GRID_COLUMNS
    gx, gy = float(g.get("x", 0)), float(g.get("y", 0))
    gw, gh = float(g.get("w", 12)), float(g.get("h", 8))
    return Box(
        16 + gx * col_w,
        top + gy * (CELL_HEIGHT + CELL_MARGIN),
        gw * col_w - CELL_MARGIN,
        gh * CELL_HEIGHT + (gh - 1) * CELL_MARGIN,
    )


def flatten_panels(panels: list[dict]) -> list[dict]:
    """Top-level panels, plus the panels of collapsed rows (Grafana keeps
    those inside the row; the preview shows them expanded)."""
    out = []
    for p in panels or []:
        out.append(p)
        if p.get("type") == "row":
            out.extend(p.get("panels") or [])
    return out


def render(dash: dict, ctx: Context, variables: list[Variable], width: float, range_text: str,
           caption: list[str]) -> tuple[str, list[dict]]:
    svg = Svg()
    panels = flatten_panels(dash.get("panels") or [])
    top = draw_header(svg, dash, width, variables, range_text)
    report = []
    bottom = top
    for p in panels:
        box = panel_box(p, width, top)
        bottom = max(bottom, box.y + box.h)
        kind = p.get("type")
        pid = p.get("id")
        entry = {"id": pid, "title": p.get("title"), "type": kind, "targets": []}
        if kind == "row":
            svg.add(f'<g class="row" data-panel-id="{esc(str(pid))}">')
            draw_row(svg, p, box)
            svg.add("</g>")
            continue
        results = run_panel(p, ctx, box.w)
        for r in results:
            entry["targets"].append({
                "refId": r.ref_id, "expr": r.expr, "instant": r.instant,
                "series": len(r.series), "points": r.points,
                "longest": max((len(s.points) for s in r.series), default=0), "error": r.error,
            })
        report.append(entry)
        series = sum(len(r.series) for r in results)
        points = sum(r.points for r in results)
        clip = svg.new_id("panel")
        svg.defs.append(f'<clipPath id="{clip}"><rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}"/></clipPath>')
        svg.add(f'<g class="panel" data-panel-id="{esc(str(pid))}" data-type="{esc(str(kind))}" '
                f'data-series="{series}" data-points="{points}" clip-path="url(#{clip})">')
        if kind == "stat":
            draw_stat(svg, p, box, results)
        elif kind in ("bargauge", "gauge"):
            draw_bargauge(svg, p, box, results)
        elif kind == "piechart":
            draw_piechart(svg, p, box, results)
        elif kind == "table":
            draw_table(svg, p, box, results)
        elif kind in ("timeseries", "graph"):
            draw_timeseries(svg, p, box, results, ctx)
        else:
            content = draw_panel_frame(svg, p, box)
            no_data(svg, content, f"({kind} panels are not drawn by the preview)")
        errors = [f"{r.ref_id}: {r.error}" for r in results if r.error]
        if errors:
            error_corner(svg, box, "; ".join(errors))
        svg.add("</g>")
    y = bottom + 28
    for line in caption:
        svg.text(16, y, line, size=13, fill=TEXT_SECONDARY)
        y += 20
    height = y + 4
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}">'
        f"<title>{esc(str(dash.get('title') or 'dashboard'))}: preview</title>"
        f"<desc>{esc(' '.join(caption))}</desc>"
        f'<defs>{"".join(svg.defs)}</defs>'
        f'<rect width="100%" height="100%" fill="{CANVAS}"/>'
    )
    return head + "".join(svg.parts) + "</svg>\n", report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Render a Grafana dashboard's panels to SVG from a real Prometheus (a preview, not Grafana).")
    ap.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--dashboard", required=True, help="dashboard JSON file (Grafana export format)")
    ap.add_argument("--output", required=True, help="SVG file to write")
    ap.add_argument("--range", default="5m", help="time range ending now (or at --end), e.g. 90s, 5m (default 5m)")
    ap.add_argument("--end", type=float, help="end of the range, Unix seconds (default: now)")
    ap.add_argument("--scrape-interval", default="15s",
                    help="the data source's scrape interval, Grafana's minimum step and base of $__rate_interval (default 15s, as in Grafana)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="set a template variable instead of Grafana's default selection")
    ap.add_argument("--width", type=float, default=1600, help="image width in pixels (default 1600)")
    ap.add_argument("--caption", action="append", default=[], help="an extra caption line (repeatable)")
    ap.add_argument("--report", help="write a JSON report of every target's series and point counts here")
    ap.add_argument("--require-data", action="store_true",
                    help="exit 3 when any target returns no data or an error")
    args = ap.parse_args(argv)

    try:
        rng = parse_duration(args.range)
        scrape = parse_duration(args.scrape_interval)
    except ValueError as e:
        print(f"render_dashboard: {e}", file=sys.stderr)
        return 2
    overrides = {}
    for kv in args.var:
        if "=" not in kv:
            print(f"render_dashboard: --var {kv!r}: use NAME=VALUE", file=sys.stderr)
            return 2
        k, v = kv.split("=", 1)
        overrides[k] = v
    try:
        with open(args.dashboard, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print(f"render_dashboard: reading dashboard {args.dashboard}: {e}", file=sys.stderr)
        return 2
    if not isinstance(dash, dict):
        print(f"render_dashboard: {args.dashboard}: not a dashboard object", file=sys.stderr)
        return 2

    prom = Prometheus(args.prometheus)
    end = args.end if args.end is not None else dt.datetime.now(dt.timezone.utc).timestamp()
    end = math.floor(end)
    try:
        version = prom.build_version()
        variables = resolve_variables(dash, prom, overrides)
        values = {v.name: v.value for v in variables}
        ctx = Context(prom, end - rng, end, scrape, values)
        stamp = dt.datetime.fromtimestamp(end, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        caption = [
            "Preview rendered by exporters/mixin/preview/render_dashboard.py from the shipped dashboard's panels and PromQL queries, "
            f"answered by a real Prometheus{' ' + version if version else ''} at {stamp}. Not a Grafana screenshot.",
            *args.caption,
        ]
        svg, report = render(dash, ctx, variables, args.width, humanize_range(rng), caption)
    except RenderError as e:
        print(f"render_dashboard: {e}", file=sys.stderr)
        return 2
    except QueryError as e:
        print(f"render_dashboard: Prometheus: {e}", file=sys.stderr)
        return 2
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
        if args.report:
            with open(args.report, "w", encoding="utf-8") as f:
                json.dump({"prometheus": args.prometheus, "version": version, "start": ctx.start, "end": ctx.end,
                           "variables": values, "panels": report}, f, indent=2)
    except OSError as e:
        print(f"render_dashboard: writing {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    empty = [(p["title"], t["refId"], t["error"] or "no data") for p in report for t in p["targets"]
             if t["error"] or t["series"] == 0]
    no_targets = [p["title"] for p in report if not p["targets"]]
    for title, ref, why in empty:
        print(f"render_dashboard: panel {title!r} target {ref}: {why}", file=sys.stderr)
    for title in no_targets:
        print(f"render_dashboard: panel {title!r} has no targets", file=sys.stderr)
    if args.require_data and (empty or no_targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
