"""Finding a place in what people type: rooms in several notations, common areas by alias."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from core.domain.directory import CommonArea, Estate

_DASH = r"\s*[-－–—/]\s*"
_ROOM_PATTERNS = (
    # 1-1-1201, 1－1－1201, 1/1/1201
    re.compile(rf"(?<![\w-])(?P<b>\d{{1,3}}){_DASH}(?P<u>\d{{1,2}}){_DASH}(?P<r>\d{{3,5}})(?![\w-])"),
    # 1栋1单元1201, 1号楼1单元1201室, 1幢2单元302
    re.compile(r"(?P<b>\d{1,3})\s*(?:号楼|栋|幢|座|号)\s*(?P<u>\d{1,2})\s*单元\s*(?P<r>\d{3,5})\s*(?:室|号)?"),
    # building 1 unit 2 room 1201, bldg 1 unit 2 #1201
    re.compile(
        r"(?:building|bldg|block|blk)\.?\s*(?P<b>\d{1,3})\s*,?\s*unit\s*(?P<u>\d{1,2})\s*,?\s*(?:room|rm|apt|flat|#)?\.?\s*#?(?P<r>\d{3,5})",
        re.IGNORECASE,
    ),
)
# A building and room without the unit: 1号楼1201, 1栋1201室, building 1 room 1201, 1-1201
_ROOM_WITHOUT_UNIT = (
    re.compile(r"(?P<b>\d{1,3})\s*(?:号楼|栋|幢|座)\s*(?P<r>\d{3,5})\s*(?:室|号)?"),
    re.compile(
        r"(?:building|bldg|block|blk)\.?\s*(?P<b>\d{1,3})\s*,?\s*(?:room|rm|apt|flat|#)\.?\s*#?(?P<r>\d{3,5})", re.I
    ),
    re.compile(rf"(?<![\w-])(?P<b>\d{{1,3}}){_DASH}(?P<r>\d{{3,5}})(?![\w-])"),
)


@dataclass(frozen=True)
class PlaceMatch:
    """A room or common area found in text; or, when the unit is missing, the rooms it could be."""

    room: str | None = None
    common_area: str | None = None
    candidates: tuple[str, ...] = ()
    problem: str = ""  # why a room-like text is not a room here, e.g. the building does not exist

    @property
    def found(self) -> bool:
        return self.room is not None or self.common_area is not None


def find_room(estate: Estate, text: str, own_rooms: tuple[str, ...] = ()) -> PlaceMatch:
    """A room of this estate named anywhere in text, in any of the usual notations."""
    for pattern in _ROOM_PATTERNS:
        match = pattern.search(text)
        if match:
            room = f"{match['b']}-{match['u']}-{match['r']}"
            if estate.room_exists(room):
                return PlaceMatch(room=room)
            return PlaceMatch(problem=room)
    for pattern in _ROOM_WITHOUT_UNIT:
        match = pattern.search(text)
        if not match:
            continue
        building = estate.building(match["b"])
        if building is None:
            return PlaceMatch(problem=f"{match['b']}-?-{match['r']}")
        options = tuple(
            room for unit in building.units if estate.room_exists(room := f"{building.name}-{unit}-{match['r']}")
        )
        mine = tuple(room for room in options if room in own_rooms)
        if len(mine) == 1:
            return PlaceMatch(room=mine[0])
        if len(options) == 1:
            return PlaceMatch(room=options[0])
        if options:
            return PlaceMatch(candidates=options)
        return PlaceMatch(problem=f"{match['b']}-?-{match['r']}")
    return PlaceMatch()


def _normalize(text: str) -> str:
    return re.sub(r"[\s_\-·.,，。!！?？]+", "", text.casefold())


def find_common_area(estate: Estate, text: str, fuzzy: bool = True) -> CommonArea | None:
    """A common area whose name or alias appears in the text; a close misspelling when fuzzy."""
    wanted = _normalize(text)
    if not wanted:
        return None
    names: list[tuple[str, CommonArea]] = []
    for area in estate.common_areas:
        # "3号楼电梯 Building 3 lifts" is also known by each of its two languages' halves.
        halves = re.split(r"\s+(?=[A-Za-z])", area.name, maxsplit=1)
        for name in (area.name, *area.aliases, *halves):
            if _normalize(name):
                names.append((_normalize(name), area))
    # Longest name first, so "3号楼电梯" wins over "电梯".
    names.sort(key=lambda pair: len(pair[0]), reverse=True)
    for name, area in names:
        if name == wanted or name in wanted:
            return area
    if fuzzy:
        close = difflib.get_close_matches(wanted, [name for name, _ in names], n=1, cutoff=0.75)
        if close:
            return next(area for name, area in names if name == close[0])
    return None


def find_place(estate: Estate, text: str, own_rooms: tuple[str, ...] = (), fuzzy: bool = True) -> PlaceMatch:
    room = find_room(estate, text, own_rooms)
    if room.found or room.candidates:
        return room
    area = find_common_area(estate, text, fuzzy=fuzzy)
    if area is not None:
        return PlaceMatch(common_area=area.name)
    return room
