"""The text form of file names: any bytes but NUL survive to text and back, exactly."""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hygiene.paths import from_text, to_text

names = st.binary(min_size=1, max_size=40).filter(lambda raw: b"\x00" not in raw)


@given(names)
@example(b"caf\xe9.jpg")
@example(b"a\\b.jpg")
@example(b"a\\\\xe9")
@example(b"\\x41\xff\\")
@example(b"\xed\xb2\x80")  # an encoded surrogate, which strict UTF-8 refuses
@example(b"dir/sub/\xff\xfe.png")
def test_text_form_round_trips_and_is_utf8(raw: bytes) -> None:
    name = os.fsdecode(raw)
    text = to_text(name)
    text.encode("utf-8")  # strict: raises on a lone surrogate
    assert from_text(text) == name
    assert os.fsencode(from_text(text)) == raw


@given(names, names)
def test_text_form_is_injective(a: bytes, b: bytes) -> None:
    if a != b:
        assert to_text(os.fsdecode(a)) != to_text(os.fsdecode(b))


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"IMG_0001.jpg", "IMG_0001.jpg"),
        ("2019/café.jpg".encode(), "2019/café.jpg"),
        (b"new\nline.jpg", "new\nline.jpg"),
        (b"caf\xe9.jpg", r"caf\xe9.jpg"),
        (b"a\\b.jpg", r"a\\b.jpg"),
        (b"\\xe9", r"\\xe9"),
        (b"\\\xe9", r"\\\xe9"),
    ],
)
def test_examples(raw: bytes, text: str) -> None:
    assert to_text(os.fsdecode(raw)) == text
    assert from_text(text) == os.fsdecode(raw)


def test_plain_names_are_unchanged() -> None:
    name = "Urlaub 2019/Straße/ß 😀.jpg"
    assert to_text(name) is name
    assert from_text(name) is name


@pytest.mark.parametrize("text", ["a\\", "a\\q.jpg", "a\\x4", "a\\xg0", "a\\u00e9"])
def test_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="escape"):
        from_text(text)
