"""Alembic runs from baoxiu's own code (storage.db), which hands it a connection."""

from alembic import context

from storage.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `baoxiu db upgrade`, which knows the configured database")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
