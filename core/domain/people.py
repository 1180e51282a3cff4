"""People and where they are reached: addresses on channels whose names core never needs to know."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Address:
    """A person or a group on one channel: the channel's name and the id that channel knows them by."""

    channel: str
    id: str


@dataclass(frozen=True)
class AddressField:
    """A directory file key that names an address: which channel it is on is the channel adapter's to declare."""

    key: str
    channel: str
    integer: bool = False  # the channel's ids are whole numbers (checked when the file is loaded)
    of_groups: bool = False  # a key of staff_groups and resident_groups, not of people


@dataclass(frozen=True)
class PersonRef:
    """A person of the directory: staff or resident, by id."""

    kind: str  # resident | staff
    id: int


def _chinese(word: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in word)


def in_language(name: str, locale: str) -> str:
    """A name the directory gives in both languages ("李伟 Li Wei", "地下车库 Underground garage"), as its reader
    reads it: the Chinese words for a Chinese reader, the others for the rest. A name in one script stays whole."""
    words = name.split()
    chinese = [word for word in words if _chinese(word)]
    other = [word for word in words if not _chinese(word)]
    if not chinese or not other or not any(word.isalpha() for word in other):
        return name
    return " ".join(chinese if locale.startswith("zh") else other)


def first_name(name: str, locale: str) -> str:
    """What a message calls someone: "李伟 Li Wei" is 李伟 to a Chinese reader and Li Wei to an English one (a
    Chinese name is never cut); "Emily Brown" is Emily."""
    shown = in_language(name, locale)
    if shown != name or _chinese(shown):
        return shown
    return shown.split(" ")[0]
