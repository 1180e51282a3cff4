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


def first_name(name: str) -> str:
    """ "李伟 Li Wei" is 李伟 to the people he works for."""
    return name.split(" ")[0]
