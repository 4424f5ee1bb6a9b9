"""The status bar's throughput chart: painted bars from known counts, the numbers in its tooltip."""

from __future__ import annotations

import time

from acacia_gui.gui.widgets.throughput_chart import FAILED_COLOUR, FINISHED_COLOUR, ThroughputChart


def colours(widget) -> set[int]:
    image = widget.grab().toImage()
    return {image.pixel(x, y) & 0xFFFFFF for x in range(image.width()) for y in range(image.height())}


def test_chart_paints_known_counts_and_tooltip_gives_numbers(qtbot):
    chart = ThroughputChart()
    qtbot.addWidget(chart)
    chart.resize(chart.sizeHint())
    empty = colours(chart)
    assert FINISHED_COLOUR.rgb() & 0xFFFFFF not in empty
    now = time.time()
    chart.record(10, 0, at=now - 120)
    chart.record(6, 2, at=now - 60)
    chart.record(4, 1, at=now)
    chart.record(3, 0, at=now - 2 * 3600)  # older than an hour: not shown
    painted = colours(chart)
    assert FINISHED_COLOUR.rgb() & 0xFFFFFF in painted
    assert FAILED_COLOUR.rgb() & 0xFFFFFF in painted
    assert chart.totals() == (20, 3)
    assert chart.per_minute()[-3:] == [(10, 0), (6, 2), (4, 1)]
    tip = chart.toolTip()
    assert "20 finished, 3 failed" in tip
    assert "This minute: 4 finished, 1 failed" in tip
    assert "Busiest minute: 10 finished" in tip


def test_window_counts_finished_and_failed_jobs_in_its_chart(window, harness, qtbot):
    ids = [harness.enqueue("test.steps", {"steps": 1, "fail": i == 0}) for i in range(3)]
    for job_id in ids:
        qtbot.waitUntil(lambda job_id=job_id: harness.job(job_id).state in ("failed", "succeeded"), timeout=10_000)
    window.live.flush()
    qtbot.waitUntil(lambda: window.chart.totals() == (3, 1), timeout=5000)
    assert "3 finished, 1 failed" in window.chart.toolTip()
    assert window.statusBar().isAncestorOf(window.chart)
