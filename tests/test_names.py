from __future__ import annotations

import random

import pytest

from para.errors import InvalidName
from para.names import generate_name, validate_name


@pytest.mark.parametrize("name", ["feat", "fix-login", "a.b_c-1", "A" * 50, "x"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 51, "51 characters"),
        ("../x", "'/'"),
        ("a b", "' '"),
        ("-x", "starts with '-'"),
        (".x", "starts with '.'"),
        ("a..b", ".."),
        ("x.lock", ".lock"),
        ("archived", "reserved"),
    ],
)
def test_invalid_names_say_why(name: str, reason: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_name(name)
    assert reason in info.value.message
    assert info.value.hint and "1-50 characters" in info.value.hint


def test_generated_names_are_unique_and_valid() -> None:
    rng = random.Random(7)
    taken: set[str] = set()
    for _ in range(1000):
        name = generate_name(taken, rng)
        assert name not in taken
        validate_name(name)
        taken.add(name)
