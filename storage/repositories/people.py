"""What people chose (their language) and where they were last seen."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.domain.people import Address, PersonRef
from core.ports import PeopleRepository, Who
from storage.repositories._statements import insert_for
from storage.tables import AddressRow, PersonSettingRow


def who_key(who: Who) -> str:
    """A person of the directory, or a stranger by their address, as one key."""
    if isinstance(who, PersonRef):
        return f"{who.kind}:{who.id}"
    return f"address:{who.channel}:{who.id}"


class SqlAlchemyPeopleRepository(PeopleRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def locale(self, who: Who) -> str | None:
        return self.session.scalar(select(PersonSettingRow.locale).where(PersonSettingRow.who == who_key(who)))

    def set_locale(self, who: Who, locale: str, now: datetime) -> None:
        statement = insert_for(self.session)(PersonSettingRow).values(who=who_key(who), locale=locale, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[PersonSettingRow.who],
            set_={"locale": statement.excluded.locale, "updated_at": statement.excluded.updated_at},
        )
        self.session.execute(statement)

    def last_used(self, addresses: builtins.list[Address]) -> dict[Address, datetime]:
        if not addresses:
            return {}
        wanted = or_(*(and_(AddressRow.channel == a.channel, AddressRow.address == a.id) for a in addresses))
        rows = self.session.execute(
            select(AddressRow.channel, AddressRow.address, AddressRow.last_used_at).where(
                wanted, AddressRow.last_used_at.is_not(None)
            )
        )
        return {Address(channel, address): used for channel, address, used in rows if used is not None}
