"""Every text a person sees exists in Chinese and English."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALE_DIR, translator
from tests.conftest import REPO

PLACEHOLDER = re.compile(r"\{\w+\}")


def texts_in_code() -> set[str]:
    found: set[str] = set()
    for folder in ("core", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO / folder, keywords={"t": None, "N_": None}, method_map=[("**.py", "python")]
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_text_in_the_code_has_a_chinese_translation_with_the_same_placeholders() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "baoxiu.po").open("rb") as po:
        catalog = read_po(po)
    translated = {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    in_code = texts_in_code()
    assert len(in_code) > 100
    missing = sorted(in_code - translated.keys())
    assert missing == [], "run `make i18n` and translate these in bot/locale/zh_CN/LC_MESSAGES/baoxiu.po"
    for msgid in in_code:
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(translated[msgid])), msgid


def test_translators_answer_in_their_language() -> None:
    assert translator("zh_CN")("Report discarded; nothing was sent.") != "Report discarded; nothing was sent."
    assert translator("en")("Report discarded; nothing was sent.") == "Report discarded; nothing was sent."


def test_counted_words_take_the_form_for_their_number_in_each_language() -> None:
    from datetime import timedelta

    from bot.i18n import translator
    from core.conversation.views import duration_text

    en, zh = translator("en"), translator("zh_CN")
    assert [duration_text(timedelta(minutes=m), en) for m in (1, 30, 60, 120)] == [
        "1 minute", "30 minutes", "1 hour", "2 hours",
    ]  # fmt: skip
    assert [duration_text(timedelta(minutes=m), zh) for m in (1, 30, 120)] == ["1分钟", "30分钟", "2小时"]
    one = en.plural("⏰ {number} has been chased {count} time by the resident.",
                    "⏰ {number} has been chased {count} times by the resident.", 1)  # fmt: skip
    assert one.format(number="SG-1", count=1) == "⏰ SG-1 has been chased 1 time by the resident."
