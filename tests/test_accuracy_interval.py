"""The Wilson interval that `nas show` and the model card put beside an accuracy."""

from __future__ import annotations

import pytest

from nas.results import accuracy_interval


def test_wilson_interval_matches_the_closed_form_and_stays_in_0_1():
    # 5 of 10 right: centre 0.5, half-width 1.96 / (1 + 1.96^2/10) * sqrt(0.025 + 1.96^2/400) = 0.2634
    lo, hi = accuracy_interval(0.5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = accuracy_interval(1.0, 10)  # a perfect score on 10 series still leaves room below
    assert hi == 1.0 and lo == pytest.approx(10 / (10 + 1.96 ** 2), abs=1e-4)
    assert accuracy_interval(0.0, 10)[0] == 0.0


def test_more_series_pin_the_accuracy_down():
    widths = [hi - lo for lo, hi in (accuracy_interval(0.84, n) for n in (41, 242, 5000))]
    assert widths[0] > widths[1] > widths[2] and widths[2] < 0.03


def test_no_series_is_an_error():
    with pytest.raises(ValueError, match="at least one series"):
        accuracy_interval(0.5, 0)
