"""The coded-column helpers validation and derivation rely on: each must give what a plain row-by-row
computation gives (checked with hypothesis against exactly that)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from toxdb.arrays import (
    as_text,
    coded,
    combine_distinct,
    group_codes,
    map_distinct,
    blank_categories,
    mask_distinct,
    strip_distinct,
    take_category,
    text_contains,
)

cells = st.one_of(st.none(), st.sampled_from(["", " a", "a", "A ", "b", "Nausea", "nausea", "x|y"]))


def _series(values, categorical: bool) -> pd.Series:
    s = pd.Series(values, dtype=object)
    return s.astype("category") if categorical else s.astype("string")


def _plain(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else value


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 3), st.integers(0, 2**40), st.integers(-5, 5)), max_size=60))
def test_group_codes_are_equal_exactly_when_the_parts_are(rows):
    if not rows:
        assert len(group_codes(np.zeros(0, dtype=np.int64))) == 0
        return
    parts = [np.array(col, dtype=np.int64) for col in zip(*rows)]
    g = group_codes(*parts)
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (g[i] == g[j]) == (rows[i] == rows[j])


def test_group_codes_survive_spans_that_would_overflow():
    big = np.array([0, 2**61, 5, 2**61, 0], dtype=np.int64)
    other = np.array([7, 7, 3, 8, 7], dtype=np.int64)
    g = group_codes(big, other, big)          # the product of the spans is far beyond 64 bits
    assert g[0] == g[4] and len(set(g.tolist())) == 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(cells, cells), max_size=40), st.booleans(), st.booleans())
def test_combine_distinct_equals_applying_the_rule_row_by_row(rows, cat_a, cat_b):
    a = _series([r[0] for r in rows], cat_a)
    b = _series([r[1] for r in rows], cat_b)

    def rule(x, y):
        return None if x is None and y is None else f"{x}|{(y or '').upper()}"

    got = combine_distinct(rule, a, b)
    want = [rule(_plain(x), _plain(y)) for x, y in zip(a, b)]
    assert [_plain(v) for v in got] == want
    assert isinstance(got.dtype, pd.CategoricalDtype)


@settings(max_examples=100, deadline=None)
@given(st.lists(cells, max_size=40), st.booleans())
def test_map_and_mask_distinct_equal_row_by_row(values, categorical):
    s = _series(values, categorical)
    stripped = map_distinct(s, lambda v: "" if v is None else v.strip())
    assert [_plain(v) for v in stripped] == ["" if _plain(v) is None else _plain(v).strip() for v in s]
    upper = map_distinct(s, lambda v: None if v is None else v.upper())
    assert [_plain(v) for v in upper] == [None if _plain(v) is None else _plain(v).upper() for v in s]
    mask = mask_distinct(s, lambda v: v.startswith("a"), missing=True)
    assert mask.tolist() == [True if _plain(v) is None else _plain(v).startswith("a") for v in s]


def test_take_category_merges_equal_values_and_keeps_gaps():
    out = take_category(["x", "y", "x", None], np.array([0, 1, 2, 3, -1, 2]))
    assert [_plain(v) for v in out] == ["x", "y", "x", None, None, "x"]
    assert list(out.cat.categories) == ["x", "y"]
    assert out.cat.codes.tolist() == [0, 1, 0, -1, -1, 0]


def test_coded_and_as_text_round_trip():
    s = pd.Series(["b", None, "a", "b"], dtype=object).astype("category")
    codes, values = coded(s)
    assert [values[c] if c >= 0 else None for c in codes] == ["b", None, "a", "b"]
    text = as_text(s)
    assert str(text.dtype) == "string" and text.tolist()[0] == "b" and pd.isna(text.iloc[1])


# texts whose ends str.strip() treats differently from a plain ASCII test: Unicode spaces (no-break,
# ideographic), the ASCII separators \x1c-\x1f that Python counts as whitespace, and none at all
SPACES = ["", " ", "\t", "\u00a0", "\u3000", "\x1f", "\x1c", "\u2028", "\x85", "\u200b"]
word = st.sampled_from(["a", "Nausea", "x|y", "恶心", "é", "#1", "", "ref:a", "b c"])
texts = st.builds(lambda l, w, r: l + w + r, st.sampled_from(SPACES), word, st.sampled_from(SPACES))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), texts), max_size=40), st.booleans())
def test_strip_blank_and_contains_equal_pythons_own_string_methods(values, categorical):
    """D46: the Arrow shortcuts give exactly what str.strip and `in` give."""
    s = _series(values, categorical)
    plain = [_plain(v) for v in s]
    assert [_plain(v) for v in strip_distinct(s)] == ["" if v is None else v.strip() for v in plain]
    if categorical:
        cats = s.cat.categories.tolist()
        assert blank_categories(s).tolist() == [not c.strip() for c in cats]
        some = np.arange(len(cats))[::2]
        assert blank_categories(s, some).tolist() == [not cats[i].strip() for i in some]
        assert text_contains(s, "|") == any("|" in c for c in cats)


def test_take_category_merges_a_million_style_list_of_texts_like_the_slow_path():
    values = ["b", "a", None, "b", "c", "a"]
    out = take_category(values, np.array([5, 4, 3, 2, 1, 0, -1]))
    assert [_plain(v) for v in out] == ["a", "c", "b", None, "a", "b", None]
    assert list(out.cat.categories) == ["b", "a", "c"]          # order of first appearance, merged
    mixed = take_category([1, "1", None], np.array([0, 1, 2]))  # not all text: merged on str(value)
    assert mixed.cat.codes.tolist() == [0, 0, -1]
