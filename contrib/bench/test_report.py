"""Checks of the table's arithmetic on made-up rounds (no proxies run):
    python3 -B -m unittest discover -s contrib/bench
"""

import os
import tempfile
import unittest

import chart
import report

GIB = 1 << 30


def _run(bps, cpu, nbytes=GIB):
    return {"bps": bps, "bytes": nbytes, "cpu_s": cpu}


def _res(throughput=None, echo=None, memory=None):
    meta = {"workers_n": 2, "echo_conns": 5000, "echo_ws_tls_conns": 2000,
            "idle_sessions": 100}
    return {"meta": meta, "throughput": throughput or {}, "echo": echo or {},
            "memory": memory or {}}


def _by_metric(rws, start):
    return next(r for r in rws if r["metric"].startswith(start))


class Rows(unittest.TestCase):
    def test_median_of_rounds_ratio_and_target(self):
        tp = {"aes-128-gcm": {
            "evproxy": {"up": [_run(1e9, [1, 1]), _run(3e9, [1, 1]), _run(2e9, [1, 1])],
                        "down": [_run(1e9, [1, 3])] * 3},
            "v2ray": {"up": [_run(1e9, [2, 2])] * 3, "down": [_run(1e9, [2, 2])] * 3}}}
        rws = report.rows(_res(tp), {"aes-128-gcm": ("up", "down")})
        up = _by_metric(rws, "1 stream aes-128-gcm up")
        self.assertEqual((up["evproxy"], up["v2ray"], up["ratio"]), (2.0, 1.0, 2.0))
        self.assertIs(up["met"], True)
        self.assertEqual(up["rounds"]["evproxy"], [1.0, 3.0, 2.0])
        down = _by_metric(rws, "1 stream aes-128-gcm down")
        self.assertIs(down["met"], False)
        # CPU: up and down pooled per round, per process and summed, over the GiB moved.
        self.assertEqual(_by_metric(rws, "CPU 1 stream aes-128-gcm, client")["evproxy"], 1.0)
        self.assertEqual(_by_metric(rws, "CPU 1 stream aes-128-gcm, server")["evproxy"], 2.0)
        total = _by_metric(rws, "CPU 1 stream aes-128-gcm, client + server")
        self.assertEqual((total["evproxy"], total["v2ray"], total["ratio"]), (3.0, 4.0, 0.75))
        self.assertIs(total["met"], False)  # target <= 0.5x

    def test_a_side_not_measured_is_na_not_a_verdict(self):
        tp = {"none": {"evproxy": {"up": [_run(1e9, [1, 1])], "down": []},
                       "v2ray": {"error": "did not start"}}}
        rws = report.rows(_res(tp), {"none": ("up", "down")})
        up = _by_metric(rws, "1 stream none up")
        self.assertEqual((up["v2ray"], up["ratio"], up["met"]), (None, None, None))
        self.assertIn("n/a", report.table(rws))

    def test_echo_target_is_not_met_by_rounding_and_stalls_show_the_worst_round(self):
        def rnd(med, stalls):
            return {"conns": 5000, "median_ms": med, "p99_ms": 1.0, "stalls": stalls}
        ech = {"evproxy": [rnd(0.2522, 0), rnd(0.2522, 2), rnd(0.2522, 0)],
               "v2ray": [rnd(1.0, 0)] * 3}
        rws = report.rows(_res(echo=ech), {})
        med = _by_metric(rws, "connect + 1-byte echo, median")
        self.assertIs(med["met"], False)
        self.assertIn("0.252x", report.table(rws))
        stalls = _by_metric(rws, "stalls")
        self.assertEqual((stalls["evproxy"], stalls["met"]), (2, False))

    def test_ws_tls_rows_have_their_own_label_count_and_targets(self):
        tp = {"ws+tls": {i: {"up": [_run(b, [1, 1])], "down": [_run(b, [1, 1])]}
                         for i, b in (("evproxy", 4e9), ("v2ray", 2e9))}}
        ech = {"evproxy": [{"median_ms": 1.0, "p99_ms": 2.0, "stalls": 0}],
               "v2ray": [{"median_ms": 2.0, "p99_ms": 8.0, "stalls": 1}]}
        res = _res(tp)
        res["echo_ws_tls"] = ech
        rws = report.rows(res, {"ws+tls": ("up", "down")})
        up = _by_metric(rws, "1 stream aes-128-gcm over ws+tls up")
        self.assertEqual((up["ratio"], up["met"]), (2.0, True))
        cpu = _by_metric(rws, "CPU 1 stream aes-128-gcm over ws+tls, client + server")
        self.assertEqual((cpu["evproxy"], cpu["ratio"]), (2.0, 1.0))
        med = _by_metric(rws, "connect + 1-byte echo over ws+tls, median")
        self.assertEqual((med["ratio"], med["met"]), (0.5, False))
        stalls = _by_metric(rws, "stalls > 1 s (or failed) in 2000 connections over ws+tls")
        self.assertEqual((stalls["evproxy"], stalls["v2ray"], stalls["met"]), (0, 1, True))
        self.assertFalse(any(r["metric"].startswith("connect + 1-byte echo, ") for r in rws))

    def test_request_rows_fresh_and_warm_mux_have_no_target(self):
        def rnd(med, p99, stalls=0):
            return {"median_ms": med, "p99_ms": p99, "stalls": stalls, "carriers": 1}
        res = _res()
        res["meta"].update(request_conns=300, mux_concurrency=8)
        res["request_fresh"] = {"evproxy": [rnd(1.0, 2.0), rnd(3.0, 9.0), rnd(2.0, 4.0)],
                                "v2ray": [rnd(4.0, 16.0)] * 3}
        res["request_mux"] = {"evproxy": [rnd(1.5, 3.0)], "v2ray": [rnd(1.0, 12.0, 2)]}
        rws = report.rows(res, {})
        fresh = _by_metric(rws, "request via SOCKS, fresh (no mux), median")
        self.assertEqual((fresh["evproxy"], fresh["v2ray"], fresh["ratio"]), (2.0, 4.0, 0.5))
        self.assertEqual((fresh["target"], fresh["met"]), ("", None))
        p99 = _by_metric(rws, "request via SOCKS, warm mux 8, p99")
        self.assertEqual((p99["evproxy"], p99["ratio"]), (3.0, 0.25))
        self.assertEqual(_by_metric(rws, "request via SOCKS, warm mux 8, median")["ratio"], 1.5)
        stalls = _by_metric(rws, "stalls > 1 s (or failed) in 300 requests via SOCKS, warm mux")
        self.assertEqual((stalls["evproxy"], stalls["v2ray"], stalls["met"]), (0, 2, None))
        # The mux rows follow the fresh ones, after the plain echo rows.
        names = [r["metric"] for r in rws]
        self.assertLess(names.index(fresh["metric"]), names.index(p99["metric"]))

    def test_memory_rows(self):
        mem = {i: [{"sessions": 100, "held": 100, "idle_kib": [1024, 1024],
                    "per_session_kib": [k, 2 * k]}] for i, k in (("evproxy", 1), ("v2ray", 10))}
        rws = report.rows(_res(memory=mem), {})
        per = _by_metric(rws, "RSS per idle session at 100, client + server")
        self.assertEqual((per["evproxy"], per["v2ray"], per["ratio"], per["met"]),
                         (3, 30, 0.1, True))
        idle = _by_metric(rws, "RSS idle")
        self.assertEqual((idle["evproxy"], idle["met"]), (2.0, False))

    def test_ss_libev_rows_give_evproxy_over_each_other_side(self):
        def sides(ev, ss, v2):
            return {i: {"up": [_run(b, [c, c])], "down": [_run(b, [c, c])]}
                    for i, b, c in (("evproxy", ev, 1), ("ss-libev", ss, 2), ("v2ray", v2, 4))}
        tp = {"shadowsocks": sides(4e9, 2e9, 1e9), "aes-128-gcm": sides(1e9, 1e9, 1e9)}
        del tp["aes-128-gcm"]["ss-libev"]  # a VMess setup: no ss-libev side, no row here
        tp["shadowsocks"]["ss-libev"]["down"] = []  # a side that failed a direction: n/a
        dirs = {"shadowsocks": ("up", "down"), "aes-128-gcm": ("up", "down")}
        ss = report.ss_libev_rows(_res(tp), dirs)
        self.assertEqual([r["metric"] for r in ss],
                         ["1 stream shadowsocks aes-256-gcm up",
                          "1 stream shadowsocks aes-256-gcm down (-R)",
                          "CPU 1 stream shadowsocks aes-256-gcm, client + server"])
        up, down, cpu = ss
        self.assertEqual((up["evproxy"], up["ss-libev"], up["v2ray"]), (4.0, 2.0, 1.0))
        self.assertEqual((up["ratio_ss-libev"], up["ratio_v2ray"]), (2.0, 4.0))
        self.assertEqual((down["ss-libev"], down["ratio_ss-libev"], down["ratio_v2ray"]),
                         (None, None, 4.0))
        # ss-libev's CPU pools only the rounds where both directions ran: none here.
        self.assertEqual((cpu["evproxy"], cpu["v2ray"], cpu["ratio_v2ray"]), (2.0, 8.0, 0.25))
        self.assertIsNone(cpu["ratio_ss-libev"])
        text = report.ss_libev_table(ss)
        self.assertIn("evproxy / ss-libev", text)
        self.assertRegex(text, r"aes-256-gcm up \[Gbit/s\] \(\+\) +\| +4\.000 \| +2\.000 \| "
                               r"+1\.000 \| +2\.00x \| +4\.00x")
        md = report.ss_libev_table(ss, markdown=True).splitlines()
        self.assertEqual(md[1], "|---|--:|--:|--:|--:|--:|")
        self.assertEqual(md[4].split(" | ")[-2:], ["n/a", "0.250x |"])
        # The main table keeps evproxy / V2Ray only: ss-libev's numbers stay out of it.
        main = _by_metric(report.rows(_res(tp), dirs), "1 stream shadowsocks aes-256-gcm up")
        self.assertEqual((main["evproxy"], main["v2ray"], main["ratio"]), (4.0, 1.0, 4.0))

    def test_chart_margin_fits_a_long_first_label(self):
        self.assertEqual(chart.left_margin("RSS idle (-)"), 12)
        self.assertGreater(chart.left_margin("request via SOCKS, fresh (no mux), median (-)"),
                           20)

    def test_chart_is_a_png(self):
        mem = {i: [{"sessions": 100, "held": 100, "idle_kib": [k, k],
                    "per_session_kib": [k, k]}] for i, k in (("evproxy", 1), ("v2ray", 10))}
        rws = report.rows(_res(memory=mem), {})
        with tempfile.TemporaryDirectory() as d:
            png = os.path.join(d, "bench.png")
            self.assertIsNone(chart.draw(rws, png, "test"))
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
