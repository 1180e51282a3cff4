"""Texts are written in English and translated by gettext catalogs that bot/ loads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

LOCALES = ("zh_CN", "en")


def N_(message: str) -> str:
    """Marks a text for extraction where it is defined; it is translated where it is shown."""
    return message


class Translator(Protocol):
    locale: str

    def __call__(self, message: str) -> str: ...

    def plural(self, singular: str, plural: str, n: int) -> str:
        """The form for n ("1 minute", "5 minutes"), as the language counts: Chinese has one form."""
        ...


class IdentityTranslator:
    """English as written; what tests use when the language does not matter."""

    def __init__(self, locale: str = "en") -> None:
        self.locale = locale

    def __call__(self, message: str) -> str:
        return message

    def plural(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


TranslatorFactory = Callable[[str], Translator]


def normalize_locale(value: str | None) -> str | None:
    """Channel hints like "zh-hans", "zh-CN", "en-GB" to one of LOCALES."""
    if not value:
        return None
    lowered = value.strip().lower().replace("-", "_")
    if lowered.startswith("zh"):
        return "zh_CN"
    if lowered.startswith("en"):
        return "en"
    return None
