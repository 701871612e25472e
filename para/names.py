"""Session names: the rule, and generated ``adjective-noun`` names."""

from __future__ import annotations

import random
import re
from collections.abc import Container

from para.errors import InvalidName

MAX_LEN = 50
_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
# "archived" would clash with the archive branches <prefix>/archived/<stamp>/<name> (git
# cannot hold both refs/heads/para/archived and refs/heads/para/archived/...).
RESERVED = frozenset({"archived"})

ADJECTIVES = (
    "amber",
    "brave",
    "calm",
    "clever",
    "crisp",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "mellow",
    "nimble",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "shiny",
    "silent",
    "snappy",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "witty",
    "bold",
    "bright",
)
NOUNS = (
    "otter",
    "falcon",
    "maple",
    "river",
    "comet",
    "badger",
    "cedar",
    "dolphin",
    "ember",
    "fern",
    "gecko",
    "harbor",
    "island",
    "jaguar",
    "koala",
    "lagoon",
    "meadow",
    "nebula",
    "orchid",
    "panda",
    "quartz",
    "raven",
    "sparrow",
    "tiger",
    "tulip",
    "walrus",
    "willow",
    "yak",
    "zephyr",
    "lynx",
)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid session name, else raise InvalidName with the rule."""
    if not name:
        raise InvalidName(name=name, reason="it is empty")
    if len(name) > MAX_LEN:
        raise InvalidName(name=name, reason=f"it has {len(name)} characters, at most {MAX_LEN}")
    if not _ALLOWED.fullmatch(name):
        bad = sorted({ch for ch in name if not _ALLOWED.fullmatch(ch)})
        shown = " ".join(repr(ch) for ch in bad)
        raise InvalidName(name=name, reason=f"it contains {shown}")
    if name[0] in ".-":
        raise InvalidName(name=name, reason=f"it starts with {name[0]!r}")
    if name.endswith(".lock") or ".." in name:
        raise InvalidName(name=name, reason="git refuses branch names with '..' or ending in .lock")
    if name in RESERVED:
        raise InvalidName(name=name, reason="it is reserved for archive branches")
    return name


def is_valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


def generate_name(taken: Container[str], rng: random.Random | None = None) -> str:
    """A free ``adjective-noun`` name; a numeric suffix once the pairs run out."""
    rng = rng or random.Random()
    for _ in range(200):
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        if name not in taken:
            return name
    n = 2
    while True:
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{n}"
        if name not in taken:
            return name
        n += 1
