"""bench_report: the summary names what each latency measures and the messages not counted."""

from __future__ import annotations

import pytest

from pocketmq.cli.bench_report import CONSUMER_MEASURES, PRODUCER_MEASURES, Stats, print_summary


def test_consumer_summary_names_born_to_consume_and_the_uncounted(capsys: pytest.CaptureFixture[str]) -> None:
    stats = Stats()
    stats.record(2, 10.0, 4.0)
    stats.record(2, 30.0, 6.0)
    stats.uncounted = 216
    print_summary(stats, 2.0, "consumer (T, group g)", CONSUMER_MEASURES)
    out = capsys.readouterr().out
    assert "consumer (T, group g): 4 ok, 0 failed in 2.00 s" in out
    assert "avg born-to-consume: 20.000 ms  max born-to-consume: 30.0 ms" in out
    assert "avg store-to-consume: 5.0 ms  max store-to-consume: 6 ms" in out
    assert "216 more arrived after the count was reached" in out


def test_producer_summary_has_send_rt_only(capsys: pytest.CaptureFixture[str]) -> None:
    stats = Stats()
    stats.record(1, 2.0)
    stats.fail(1, RuntimeError("first"))
    stats.fail(1, RuntimeError("second"))
    print_summary(stats, 1.0, "producer", PRODUCER_MEASURES)
    out = capsys.readouterr().out
    assert "1 ok, 2 failed" in out and "avg send RT: 2.000 ms" in out
    assert "born" not in out and "store-to-consume" not in out and "more arrived" not in out
    assert str(stats.first_error) == "first"
