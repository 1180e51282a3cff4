"""Loads the gettext catalogs in bot/locale; core only ever sees a translate function."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from core.i18n import LOCALES, IdentityTranslator, Translator

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "baoxiu"


class CatalogTranslator:
    def __init__(self, locale: str, translations: Translations) -> None:
        self.locale = locale
        self._gettext = translations.gettext
        self._ngettext = translations.ngettext

    def __call__(self, message: str) -> str:
        return self._gettext(message)

    def plural(self, singular: str, plural: str, n: int) -> str:
        return self._ngettext(singular, plural, n)


@functools.cache
def translator(locale: str) -> Translator:
    """English is the source language; other languages come from their .po catalog, compiled in memory."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == "en" or not po.exists():
        return IdentityTranslator(locale)
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return CatalogTranslator(locale, Translations(compiled, domain=DOMAIN))
