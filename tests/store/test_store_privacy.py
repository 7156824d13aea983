"""Masking of identity numbers and phones (core.privacy)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.privacy import mask_id, mask_ids_in_text, mask_phone, scrub


@pytest.mark.parametrize(("number", "masked"), [
    ("440902199001011234", "440902********1234"),
    ("44090219900101123X", "440902********123X"),
    ("440902900101123", "440902*****1123"),  # 15-digit first-generation ID
    ("E12345678", "E1*****78"),  # passport
    ("H1234567", "H1****67"),
    ("1234", "***4"),
    ("12", "**"),
    ("", ""),
])
def test_mask_id(number: str, masked: str):
    assert mask_id(number) == masked


@given(st.text(alphabet="0123456789X", min_size=0, max_size=30))
def test_masking_keeps_length_and_hides_the_middle(number: str):
    masked = mask_id(number)
    assert len(masked) == len(number)
    if len(number) >= 8:
        assert masked != number
        assert "*" in masked


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0755-83000000") == "*********0000"
    assert mask_phone("110") == "***"


def test_ids_in_free_text_are_masked_but_other_numbers_are_not():
    text = "身份证440902199001011234，设备编号8800000000001，受理编号SZ0001127"
    assert mask_ids_in_text(text) == "身份证440902********1234，设备编号8800000000001，受理编号SZ0001127"


def test_scrub_redacts_pins_and_masks_nested_values():
    assert scrub({"PIN": "88888888", "people": [{"id_no": "440902199001011234"}], "n": 3}) == {
        "PIN": "[redacted]", "people": [{"id_no": "440902********1234"}], "n": 3}
