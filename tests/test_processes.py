"""Several `baoxiu run` processes on one PostgreSQL database (tests/harness.py): what holds across them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.fake_telegram import text_update
from tests.harness import Deployment

pytestmark = pytest.mark.postgres


def test_one_persons_messages_sent_to_two_processes_at_once_are_all_kept(tmp_path: Path) -> None:
    """Each message adds to the report's description. Sent at once, half to each process, none may be lost:
    one person's turns wait for each other in the database (a turn that read the state before the other
    committed would overwrite it)."""
    assert PG_URL is not None
    user = 8900
    details = [f"detail number {n}" for n in range(30)]
    with Deployment(tmp_path, processes=2, database_url=PG_URL, workers=2) as deployment:
        deployment.say(0, user, "the kitchen tap is broken in 1-2-502", language="en", until="How urgent")
        deployment.press(1, user, "Normal", language="en", until="Quick check")
        deployment.press(0, user, "Still broken", language="en", until="Please check your report")
        deployment.deliver_many((n % 2, text_update(user, text, language="en")) for n, text in enumerate(details))

        def all_answered() -> bool:
            added = [m for m in deployment.messages_to(user) if m["text"] == "Added to the description."]
            return len(added) >= len(details)

        deployment.wait_for(all_answered, timeout=30)
        deployment.press(1, user, "Submit", language="en", until="Ticket number")
        (ticket,) = [t for t in deployment.tickets() if t["location"] == "1-2-502"]
    kept = ticket["description"].splitlines()
    assert kept[0] == "the kitchen tap is broken in 1-2-502"
    assert sorted(kept[1:]) == sorted(details)
