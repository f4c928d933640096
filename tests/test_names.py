"""Closest-name hints ignore case, spaces, ``_``/``-`` and word order (vendor spellings)."""

from __future__ import annotations

import difflib

import pytest

from onboarding_analysis.names import closest_names, similarity, words


def test_words_split_separators_and_camel_case():
    assert words("Sign Up") == ["sign", "up"]
    assert words("created_report") == ["created", "report"]
    assert words("[Amplitude] Page-Viewed") == ["[amplitude]", "page", "viewed"]
    assert words("signedUp") == ["signed", "up"]


@pytest.mark.parametrize(
    ("name", "known", "expected"),
    [
        ("signed_up", ["Sign Up", "Page Viewed", "Logout"], ["Sign Up"]),
        ("created_report", ["Report Viewed", "Report Created", "Logout"], ["Report Created"]),
        ("Report Created", ["created_report", "session_start"], ["created_report"]),
        ("feedback_submitted", ["session_start", "tour_shown"], []),
    ],
)
def test_vendor_spellings_are_found(name, known, expected):
    assert closest_names(name, known) == expected


def test_plain_difflib_misses_the_reordered_words():
    """Why the helper exists: difflib alone ranks 'Report Created' below its 0.6 cutoff."""
    assert difflib.get_close_matches("created_report", ["Report Created"], cutoff=0.6) == []
    # Same words, other order and case: sorted words are equal.
    assert similarity("created_report", "Report Created") == 1.0
    # Squashed 'signup' vs 'signedup': 2 * 6 matches / 14 characters; as words 'sign up' vs
    # 'signed up': 2 * 7 ('sign', ' up') / 16. The better one counts.
    assert similarity("Sign Up", "signed_up") == pytest.approx(max(12 / 14, 14 / 16))


def test_best_first_at_most_n_and_never_the_name_itself():
    known = ["signed_up", "signed_up_v2", "Signed Up", "sign_out"]
    out = closest_names("signed_up", known, n=2)
    assert out == ["Signed Up", "signed_up_v2"]
