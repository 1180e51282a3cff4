"""people and addresses: one table of where each person is reached, registered residents, per-person settings,
a ticket's reporter by address, ticket numbers in capitals, rejected messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The directory's channel columns (telegram_id, wechat_openid, ...) become rows of `addresses`; staff chat contacts
and registrations become linked addresses (a registration also a resident of origin "registered"); settings kept
per chat identity become settings per person. The channel each old column names is written here once: the
directory file's keys and the channels they belong to are the adapters' to declare (bot/channels).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
PEOPLE_COLUMNS = {
    'staff': (('telegram_id', 'telegram'), ('wechat_openid', 'wechat'), ('wecom_userid', 'wecom')),
    'residents': (('telegram_id', 'telegram'), ('wechat_openid', 'wechat')),
}
GROUP_COLUMNS = {
    'staff_groups': (('telegram_chat_id', 'telegram'), ('wecom_chat_id', 'wecom')),
    'resident_groups': (('telegram_chat_id', 'telegram'), ('wechat_chat_id', 'wechat')),
}
PERSON_KIND = {'staff': 'staff', 'residents': 'resident'}


def _table(name: str, *columns: str) -> sa.TableClause:
    """A table as this migration sees it; the JSON columns typed, so that lists are written as JSON."""
    return sa.table(name, *(sa.column(c, Json) if c in ('rooms', 'addresses') else sa.column(c) for c in columns))


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('addresses',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('estate_id', sa.Integer(), nullable=False),
    sa.Column('person_kind', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['estate_id'], ['estates.id'], name=op.f('fk_addresses_estate_id_estates')),
    sa.PrimaryKeyConstraint('channel', 'address', name=op.f('pk_addresses'))
    )
    with op.batch_alter_table('addresses', schema=None) as batch_op:
        batch_op.create_index('ix_addresses_person', ['person_kind', 'person_id'], unique=False)
    op.create_table('person_settings',
    sa.Column('who', sa.String(length=100), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('who', name=op.f('pk_person_settings'))
    )

    addresses = _table('addresses', 'channel', 'address', 'estate_id', 'person_kind', 'person_id', 'origin',
                       'position', 'last_used_at')
    owner: dict[tuple[str, str], str] = {}  # (channel, id) -> "staff:3"
    rows: list[dict[str, Any]] = []

    def add(channel: str, address: str, estate_id: int, kind: str, person_id: int, origin: str, position: int,
            used: Any = None) -> None:
        if (channel, address) not in owner:
            owner[(channel, address)] = f'{kind}:{person_id}'
            rows.append({'channel': channel, 'address': address, 'estate_id': estate_id, 'person_kind': kind,
                         'person_id': person_id, 'origin': origin, 'position': position, 'last_used_at': used})

    # The first to claim an address owns it, so claims are made in the order the old code looked for the person
    # behind a chat: active staff, then active residents (by their directory columns), then a registration. It
    # never looked at people no longer active, and the directory file deactivated a renamed person's row with its
    # chat ids kept, beside a new row with the same ids: inactive rows come last and get only what nobody holds.
    # Staff contacts only said where to push, so a registration for the chat goes before them.
    people = {
        table: bind.execute(sa.select(_table(table, 'id', 'estate_id', 'active', *[c for c, _ in columns]))
                            .order_by(sa.column('id'))).mappings().all()
        for table, columns in PEOPLE_COLUMNS.items()
    }
    staff_active = {row['id']: bool(row['active']) for row in people['staff']}
    staff_estate = {row['id']: row['estate_id'] for row in people['staff']}
    contacts = bind.execute(
        sa.text('SELECT channel, "user", staff_id, seen_at FROM staff_contacts ORDER BY seen_at, channel, "user"')
    ).all()

    def claim_directory(active: bool) -> None:
        for table, columns in PEOPLE_COLUMNS.items():
            for row in people[table]:
                if bool(row['active']) != active:
                    continue
                for position, (column, channel) in enumerate(columns):
                    if row[column] is not None:
                        add(channel, str(row[column]), row['estate_id'], PERSON_KIND[table], row['id'], 'directory',
                            position)

    def claim_contacts(active: bool) -> None:
        for channel, user, staff_id, seen in contacts:
            if staff_active[staff_id] == active:
                add(channel, user, staff_estate[staff_id], 'staff', staff_id, 'linked', 99, seen)

    claim_directory(active=True)

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='directory'))
        batch_op.drop_constraint('uq_residents_estate_id_name', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_residents_estate_id_origin_name'),
                                          ['estate_id', 'origin', 'name'])
    # A registered stranger becomes a resident of the room customer service confirmed (of the only estate
    # that existed then: registrations did not record theirs). Two strangers can share a display name, and
    # registered residents are unique by name: the later ones are told apart as the directory's `register`
    # does, by the room and then by a number.
    estate_id = bind.execute(sa.text('SELECT min(id) FROM estates')).scalar()
    residents = _table('residents', 'estate_id', 'name', 'active', 'rooms', 'phone', 'locale', 'origin')
    taken: set[str] = set()
    for ref, name, room in bind.execute(
        sa.text('SELECT ref, name, room FROM registrations ORDER BY confirmed_at, ref')
    ).all():
        channel, _, user = ref.partition(':')
        if estate_id is None or (channel, user) in owner:
            continue
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f'{name} ({room})' if n == 2 else f'{name} ({room}, {n - 1})'
        taken.add(unique)
        bind.execute(sa.insert(residents).values(estate_id=estate_id, name=unique, active=True, rooms=[room],
                                                 phone='', locale=None, origin='registered'))
        new_id = bind.execute(sa.text("SELECT max(id) FROM residents WHERE origin = 'registered'")).scalar()
        add(channel, user, estate_id, 'resident', int(new_id), 'linked', 0)
    claim_contacts(active=True)
    claim_directory(active=False)
    claim_contacts(active=False)
    if rows:
        bind.execute(sa.insert(addresses), rows)

    # Settings go to whoever now owns the address; one person who had them under several chat ids keeps the latest.
    settings = _table('person_settings', 'who', 'locale', 'updated_at')
    moved = [
        {'who': owner.get((channel, user), f'address:{channel}:{user}'), 'locale': locale, 'updated_at': updated}
        for channel, user, locale, updated in bind.execute(
            sa.text('SELECT channel, "user", locale, updated_at FROM user_settings ORDER BY updated_at')
        ).all()
    ]
    if moved:
        bind.execute(sa.insert(settings), list({m['who']: m for m in moved}.values()))

    for table, columns in GROUP_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('addresses', Json, nullable=True))
        names = [c for c, _ in columns]
        groups = _table(table, 'id', 'addresses', *names)
        for row in bind.execute(sa.select(groups)).mappings():
            found = [[channel, str(row[column])] for column, channel in columns if row[column] is not None]
            bind.execute(sa.update(groups).where(groups.c.id == row['id']).values(addresses=found))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('addresses', existing_type=Json, nullable=False)
            for column in names:
                batch_op.drop_column(column)

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prefer', sa.String(length=16), nullable=True))
        for column, _ in PEOPLE_COLUMNS['staff']:
            batch_op.drop_index(batch_op.f(f'ix_staff_{column}'))
            batch_op.drop_column(column)
    with op.batch_alter_table('residents', schema=None) as batch_op:
        for column, _ in PEOPLE_COLUMNS['residents']:
            batch_op.drop_index(batch_op.f(f'ix_residents_{column}'))
            batch_op.drop_column(column)
    op.drop_table('registrations')
    with op.batch_alter_table('staff_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_contacts_staff_id'))
    op.drop_table('staff_contacts')
    op.drop_table('user_settings')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_channel', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reporter_address', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('origin_channel', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('taken_by', sa.String(length=200), nullable=False, server_default=''))
    tickets = _table('tickets', 'id', 'number', 'reporter_ref', 'reporter_channel', 'reporter_address',
                     'origin_channel', 'origin_chat')
    for row in bind.execute(sa.select(tickets)).mappings():
        channel, _, user = (row['reporter_ref'] or '').partition(':')
        bind.execute(sa.update(tickets).where(tickets.c.id == row['id']).values(
            number=row['number'].upper(), reporter_channel=channel if user else '', reporter_address=user,
            origin_channel=channel if row['origin_chat'] else ''))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_reporter_ref'))
        batch_op.drop_column('reporter_ref')
        batch_op.create_index('ix_tickets_reporter_address', ['reporter_channel', 'reporter_address'], unique=False)
        batch_op.create_index('ix_tickets_assigned_at', ['assigned_at'], unique=False)

    with op.batch_alter_table('ticket_subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('origin_chat', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('origin_message', sa.String(length=64), nullable=False, server_default=''))
    subscribers = _table('ticket_subscribers', 'id', 'ref', 'chat', 'message_ref', 'channel', 'address',
                         'origin_chat', 'origin_message')
    for row in bind.execute(sa.select(subscribers)).mappings():
        channel, _, user = row['ref'].partition(':')
        bind.execute(sa.update(subscribers).where(subscribers.c.id == row['id']).values(
            channel=channel, address=user, origin_chat=row['chat'], origin_message=row['message_ref']))
    with op.batch_alter_table('ticket_subscribers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ticket_subscribers_ticket_id_ref', type_='unique')
        batch_op.drop_column('ref')
        batch_op.drop_column('chat')
        batch_op.drop_column('message_ref')
        batch_op.create_unique_constraint(batch_op.f('uq_ticket_subscribers_ticket_id_channel_address'),
                                          ['ticket_id', 'channel', 'address'])
    # The defaults were for the rows that existed; new rows always say.
    for table, columns in (('tickets', ('reporter_channel', 'reporter_address', 'origin_channel', 'taken_by')),
                           ('ticket_subscribers', ('channel', 'address', 'origin_chat', 'origin_message')),
                           ('residents', ('origin',))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=False, server_default='handled'))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.alter_column('outcome', server_default=None)
        batch_op.alter_column('reason', server_default=None)
    # Running processes read the directory again: people are now found through their addresses.
    bind.execute(sa.text('UPDATE estates SET version = version + 1'))


def downgrade() -> None:
    raise NotImplementedError('0004 moves data between tables; restore a backup taken before upgrading instead')
