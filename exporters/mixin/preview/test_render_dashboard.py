#!/usr/bin/env python3
"""Unit tests of render_dashboard.py (standard library only, no Prometheus):

    python3 -m unittest discover -s exporters/mixin/preview -v

The end-to-end run against a real Prometheus is tests/dashboard_preview.rs.
"""

import json
import math
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import render_dashboard as rd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "..", "dashboards", "livepatch.json")
SVG_NS = "{http://www.w3.org/2000/svg}"


class FakeProm:
    """Answers every query with canned series, and records the queries."""

    def __init__(self, empty=()):
        self.queries = []
        self.empty = set(empty)

    def build_version(self):
        return "0.0-test"

    def label_values(self, label, match):
        return ["host-a:9977", "host-b:9977"]

    def _series(self, expr, points):
        if any(e in expr for e in self.empty):
            return []
        labels = {"instance": "host-a:9977", "job": "patchscope", "patch": "lp-1",
                  "target": "patched", "state": "enabled", "function": "bufwait",
                  "kind": "transition_started", "comm": "bad\x1b]2;x\x07name"}
        if "time()" not in expr and "(" not in expr.split("{")[0]:
            labels["__name__"] = expr.split("{")[0].strip()
        return [rd.Series(labels, points)]

    def instant(self, expr, at):
        self.queries.append(("instant", expr))
        return self._series(expr, [(at, 3.0)])

    def range(self, expr, start, end, step):
        self.queries.append(("range", expr, step))
        n = int((end - start) // step)
        return self._series(expr, [(start + i * step, float(i % 7)) for i in range(n + 1)])


class Durations(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(rd.parse_duration("90s"), 90)
        self.assertEqual(rd.parse_duration("5m"), 300)
        self.assertEqual(rd.parse_duration("1h30m"), 5400)
        self.assertAlmostEqual(rd.parse_duration("500ms"), 0.5)
        for bad in ("", "5", "5 m", "m5", "5x"):
            with self.assertRaises(ValueError):
                rd.parse_duration(bad)

    def test_prom_duration(self):
        self.assertEqual(rd.prom_duration(8), "8s")
        self.assertEqual(rd.prom_duration(0.2), "200ms")
        self.assertEqual(rd.prom_duration(60), "60s")

    def test_round_interval_like_grafana(self):
        self.assertEqual(rd.round_interval(0.18), 0.2)
        self.assertEqual(rd.round_interval(1.2), 1)
        self.assertEqual(rd.round_interval(12), 10)
        self.assertEqual(rd.round_interval(13), 15)
        self.assertEqual(rd.round_interval(50), 60)


class Formats(unittest.TestCase):
    def test_values(self):
        self.assertEqual(rd.format_value(3.0, None), "3")
        self.assertEqual(rd.format_value(0.997, "percentunit"), "99.7%")
        self.assertEqual(rd.format_value(1.0, "percentunit"), "100%")
        self.assertEqual(rd.format_value(185.0, "s"), "3.08 min")
        self.assertEqual(rd.format_value(0.00066, "s"), "660 µs")
        self.assertEqual(rd.format_value(39.0, "s"), "39 s")
        self.assertEqual(rd.format_value(None, "s"), "-")
        self.assertEqual(rd.format_value(float("nan"), None), "NaN")

    def test_control_characters_become_visible(self):
        self.assertEqual(rd.clean_text("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07")
        self.assertEqual(rd.esc('<a & "b">'), "&lt;a &amp; &quot;b&quot;&gt;")

    def test_fit_cuts_with_ellipsis(self):
        long = "x" * 200
        cut = rd.fit(long, 12, 100)
        self.assertTrue(cut.endswith("…"))
        self.assertLessEqual(rd.text_width(cut, 12), 100)
        self.assertEqual(rd.fit("short", 12, 100), "short")

    def test_thresholds(self):
        steps = [{"color": "red", "value": None}, {"color": "yellow", "value": 0.9},
                 {"color": "green", "value": 1}]
        self.assertEqual(rd.threshold_color(steps, 0.5), rd.NAMED_COLORS["red"])
        self.assertEqual(rd.threshold_color(steps, 0.95), rd.NAMED_COLORS["yellow"])
        self.assertEqual(rd.threshold_color(steps, 1.0), rd.NAMED_COLORS["green"])


class Variables(unittest.TestCase):
    def test_interpolate(self):
        vals = {"instance": ".*", "__rate_interval": "8s", "__range": "90s", "datasource": "prometheus"}
        self.assertEqual(
            rd.interpolate('rate(x{instance=~"$instance"}[$__rate_interval]) ${datasource} [[instance]] $__range $unknown', vals),
            'rate(x{instance=~".*"}[8s]) prometheus .* 90s $unknown',
        )

    def test_resolve_defaults_and_overrides(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        vs = {v.name: v for v in rd.resolve_variables(dash, FakeProm(), {})}
        self.assertEqual(vs["instance"].text, "All")
        self.assertEqual(vs["instance"].value, ".*")  # the dashboard's allValue
        self.assertEqual(vs["datasource"].text, "Prometheus")
        vs = {v.name: v for v in rd.resolve_variables(dash, FakeProm(), {"instance": "host-b:9977"})}
        self.assertEqual(vs["instance"].value, "host-b:9977")

    def test_all_without_all_value_is_a_regex_of_the_values(self):
        dash = {"templating": {"list": [{"name": "h", "type": "query", "includeAll": True,
                                          "query": "label_values(up, instance)"}]}}
        (v,) = rd.resolve_variables(dash, FakeProm(), {})
        self.assertEqual(v.value, "(host-a:9977|host-b:9977)")

    def test_legend(self):
        labels = {"__name__": "m", "instance": "h", "patch": "p"}
        self.assertEqual(rd.legend_name("{{instance}} {{ patch }} → {{missing}}", labels, "e"), "h p → ")
        self.assertEqual(rd.legend_name("", labels, "e"), 'm{instance="h", patch="p"}')
        self.assertEqual(rd.legend_name("", {}, "sum(x)"), "sum(x)")


class Tables(unittest.TestCase):
    """Grafana's Prometheus table frames and its merge/organize transformations."""

    def result(self, ref, labels_list, value=1.0):
        r = rd.TargetResult(ref, "e", True)
        r.series = [rd.Series(dict(lab), [(100.0, value)]) for lab in labels_list]
        return r

    def test_merge_joins_rows_with_equal_shared_fields(self):
        a = self.result("A", [{"instance": "h", "patch": "p1"}, {"instance": "h", "patch": "p2"}], 5)
        b = self.result("B", [{"instance": "h", "patch": "p2"}, {"instance": "h", "patch": "p1"}], 7)
        (f,) = rd.merge_frames(rd.table_frames([a, b]))
        self.assertEqual(f.fields, ["Time", "instance", "patch", "Value #A", "Value #B"])
        self.assertEqual([(r["patch"], r["Value #A"], r["Value #B"]) for r in f.rows],
                         [("p1", 5, 7), ("p2", 5, 7)])

    def test_merge_keeps_rows_apart_when_metric_names_differ(self):
        # Both frames carry __name__ (a selector, a filter comparison), so
        # it is part of the key: Grafana shows two rows, and so does the
        # preview.
        a = self.result("A", [{"__name__": "m_state", "instance": "h", "patch": "p"}])
        b = self.result("B", [{"__name__": "m_functions", "instance": "h", "patch": "p"}])
        (f,) = rd.merge_frames(rd.table_frames([a, b]))
        self.assertEqual(len(f.rows), 2)

    def test_merge_refuses_a_conflicting_value(self):
        a = self.result("A", [{"instance": "h"}])
        c = self.result("C", [{"__name__": "x", "instance": "h"}])
        d = self.result("D", [{"__name__": "y", "instance": "h"}])
        (f,) = rd.merge_frames(rd.table_frames([a, c, d]))
        self.assertEqual(len(f.rows), 2)
        self.assertEqual(f.rows[0]["Value #C"], 1.0)
        self.assertNotIn("Value #D", f.rows[0])

    def test_organize(self):
        f = rd.Frame(["Time", "__name__", "instance", "Value"],
                     [{"Time": 1, "__name__": "m", "instance": "h", "Value": 2}])
        g = rd.organize(f, {"excludeByName": {"Time": True, "__name__": True},
                            "renameByName": {"instance": "Host"}})
        self.assertEqual(g.fields, ["Host", "Value"])
        self.assertEqual(g.rows, [{"Host": "h", "Value": 2}])

    def test_single_target_value_column(self):
        (f,) = rd.table_frames([self.result("A", [{"instance": "h"}])])
        self.assertEqual(f.fields, ["Time", "instance", "Value"])


class Render(unittest.TestCase):
    def render(self, prom):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        variables = rd.resolve_variables(dash, prom, {})
        ctx = rd.Context(prom, 1000.0, 1090.0, 2.0, {v.name: v.value for v in variables})
        return dash, rd.render(dash, ctx, variables, 1600, "Last 90 seconds", ["caption"])

    def test_every_panel_is_drawn_and_the_svg_is_well_formed(self):
        prom = FakeProm()
        dash, (svg, report) = self.render(prom)
        root = ET.fromstring(svg)
        self.assertEqual(root.tag, SVG_NS + "svg")
        drawn = {g.get("data-panel-id") for g in root.iter(SVG_NS + "g") if g.get("class") == "panel"}
        panels = [p for p in rd.flatten_panels(dash["panels"]) if p["type"] != "row"]
        self.assertEqual(drawn, {str(p["id"]) for p in panels})
        self.assertEqual(len(report), len(panels))
        for p in report:
            for t in p["targets"]:
                self.assertGreater(t["series"], 0, p)
        self.assertNotIn("No data", svg)
        self.assertNotIn("\x1b", svg)
        # No template variable reaches Prometheus unreplaced.
        for q in prom.queries:
            self.assertNotIn("$", q[1])
        # Instant targets are instant queries, the others range queries
        # with the step and rate window Grafana would use.
        kinds = {q[0] for q in prom.queries}
        self.assertEqual(kinds, {"instant", "range"})
        rate = [q for q in prom.queries if "deriv" in q[1]]
        self.assertTrue(rate and "[8s]" in rate[0][1], rate)
        self.assertTrue(all(q[2] == 2.0 for q in prom.queries if q[0] == "range"))

    def test_empty_answers_say_no_data(self):
        _, (svg, report) = self.render(FakeProm(empty=["livepatch_blocked_thread_info"]))
        ET.fromstring(svg)
        self.assertIn("No data", svg)
        empty = [p["title"] for p in report if any(t["series"] == 0 for t in p["targets"])]
        self.assertEqual(empty, ["Blocked threads"])

    def test_cli_reports_unreachable_prometheus(self):
        with tempfile.TemporaryDirectory() as d:
            rc = rd.main(["--prometheus", "http://127.0.0.1:9", "--dashboard", DASHBOARD,
                          "--output", os.path.join(d, "x.svg")])
        self.assertEqual(rc, 2)

    def test_cli_rejects_bad_range(self):
        with tempfile.TemporaryDirectory() as d:
            rc = rd.main(["--prometheus", "http://127.0.0.1:9", "--dashboard", DASHBOARD,
                          "--output", os.path.join(d, "x.svg"), "--range", "soon"])
        self.assertEqual(rc, 2)

    def test_value_ticks_cover_the_range(self):
        lo, hi, ticks, _ = rd.value_ticks(0.3, 9.2, 200)
        self.assertLessEqual(lo, 0.3)
        self.assertGreaterEqual(hi, 9.2)
        self.assertTrue(all(b > a for a, b in zip(ticks, ticks[1:])))
        self.assertFalse(any(math.isnan(t) for t in ticks))


if __name__ == "__main__":
    unittest.main()
