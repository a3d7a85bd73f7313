"""Messages in the reader's language, gettext style (Babel message catalogues).

Every user-visible string (pages, messages, table headers, footnotes, chart labels, reports, CLI
words meant for people) is written in English inside ``_()`` (or ``ngettext()`` for counts), with
named placeholders filled after translation so that a translator sees the whole sentence:

    from toxdb.i18n import _, ngettext
    _("{n} rows rejected in {file}").format(n=n, file=name)
    ngettext("{n} patient", "{n} patients", n).format(n=n)

Never an f-string inside ``_()``: the catalogue could not hold it. A string defined before the
language is known (a module constant) is marked with ``N_()`` and translated where it is shown:
``_(LABEL)``. The language is per script run (a context variable the dashboard sets for each user);
the default comes from the trial file (``[trial] language``).

Catalogues: ``toxdb/locale/<language>/LC_MESSAGES/messages.po``, read with Babel and compiled in
memory on first use (no .mo files to keep in step). The README says how to extract new strings and
update a catalogue; ``tests/test_i18n.py`` fails when a string in the code has no translation.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import functools
import gettext as _gettext
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

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
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; one of {', '.join(LANGUAGES)}")
    token = _language.set(code)
    try:
        yield
    finally:
        _language.reset(token)


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``code`` (English: the messages as written)."""
    path = catalogue_path(code)
    if code == DEFAULT_LANGUAGE or not path.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)      # a fuzzy (unchecked) translation is not shown
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(message: str) -> str:
    """``message`` in the current language (the English text when it has no translation)."""
    return _translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message that fits ``n`` in the current language (Chinese has one)."""
    return _translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (translate it when shown)."""
    return message


def translate_parts(text: str | None, sep: str = "; ") -> str | None:
    """A note made of marked messages joined with ``sep`` (lab grade notes), each part translated."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return text
    return sep.join(gettext(part) for part in str(text).split(sep))


def babel_locale() -> str:
    """The Babel locale of the current language ('en', 'zh_Hans_CN')."""
    return {"zh_CN": "zh_Hans_CN"}.get(current_language(), current_language())


def format_number(value: float, digits: int | None = None) -> str:
    """A number written for the current language (grouping, decimal sign)."""
    from babel.numbers import format_decimal

    fmt = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=fmt, locale=babel_locale())


def format_date(day: dt.date, form: str = "medium") -> str:
    """A date written for the current language ('16 Nov 2026' / '2026年11月16日')."""
    from babel.dates import format_date as _format_date

    return _format_date(day, format=form, locale=babel_locale())


_ = gettext
