"""Messages in the reader's language, gettext style.

Every user-visible string (pages, messages, table headers, footnotes, chart labels, reports, CLI
words meant for people) is written in English inside ``_()`` (or ``ngettext()`` for counts), with
named placeholders filled after translation so that a translator sees the whole sentence:

    from toxdb.i18n import _, ngettext
    _("{n} rows rejected in {file}").format(n=n, file=name)
    ngettext("{n} patient", "{n} patients", n).format(n=n)

Never an f-string inside ``_()``: the catalogue could not hold it. The language is per script run
(a context variable the dashboard sets for each user); the default comes from the trial file.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("toxdb_language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return _language.get()


def set_language(code: str) -> None:
    """Use ``code`` for the rest of this thread's (script run's) messages."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; one of {', '.join(LANGUAGES)}")
    _language.set(code)


@contextmanager
def language(code: str) -> Iterator[None]:
    """Messages in ``code`` inside the block (a report built in the committee's language, a test)."""
    token = _language.set(code)
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str) -> str:
    """``message`` in the current language (English until the catalogues exist)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_ = gettext
