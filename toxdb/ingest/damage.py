"""Damaged text files: find the damage, name the line, keep every other row (decision D42).

A reader calls :func:`inspect_text` on a delimited text file before parsing it. It returns the bytes to
parse (UTF-16/32 re-encoded as UTF-8, classic Mac line ends made line feeds, the quotes of a line
whose quote never closes taken out) and the physical lines that are damaged, each with a reason in
plain words; those lines become rejected rows. A file that cannot be a table at all (a binary header,
a line too long to be a row) raises ReadError with a sentence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toxdb.i18n import _

MAX_LINE_BYTES = 1 << 20          # one row of a listing is far below 1 MiB; longer means lost line breaks
_SCAN_CHUNK = 16 << 20            # bytes scanned at a time (bounded memory for a 150 MB file)
_MAX_BAD_UTF8_LINES = 100         # more than this: not a UTF-8 file with a few bad lines, another encoding


class TextDamage(ValueError):
    """The file cannot be read as a table; the message says why and what to do."""


@dataclass
class Inspected:
    body: bytes
    encoding: str | None = None               # set when the bytes were re-encoded as UTF-8 (from this)
    damaged: dict[int, str] = field(default_factory=dict)   # 1-based physical line -> reason
    notes: list[str] = field(default_factory=list)


def inspect_text(raw: bytes, file_name: str) -> Inspected:
    """Find the damage in a delimited text file (see the module docstring)."""
    out = Inspected(raw)
    unicode = _wide_unicode(raw)
    if unicode is not None:
        out.body, out.encoding = _transcode(raw, unicode, file_name), unicode
        out.notes.append(_("the file is {encoding} text; it was read as such").format(encoding=unicode.upper()))
    elif b"\x00" in _first_line(raw):
        raise TextDamage(_("{file}: this is a binary file, not a table (its first line is not text). "
                           "Upload a CSV, Excel .xlsx or SAS transport .xpt file.").format(file=file_name))
    if b"\r" in out.body and b"\n" not in out.body:
        out.body = out.body.replace(b"\r", b"\n")
        out.notes.append(_("the lines end with a carriage return only (classic Mac); they were read as lines"))
    ends = line_ends(out.body)
    _check_line_length(ends, len(out.body), file_name)
    if b"\x00" in out.body:
        out.body = _mark_nul_lines(out.body, ends, out.damaged)
    _mark_bad_utf8_lines(out, ends)
    if b'"' in out.body:
        _mark_unclosed_quote(out, ends)
    return out


def line_ends(body: bytes) -> np.ndarray:
    """Positions of every line feed, scanned in chunks."""
    view = np.frombuffer(body, dtype=np.uint8)
    parts = [np.flatnonzero(view[i:i + _SCAN_CHUNK] == 10) + i for i in range(0, len(view), _SCAN_CHUNK)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _line_of(pos: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """1-based physical line of each byte position."""
    return np.searchsorted(ends, pos) + 1


def _first_line(raw: bytes) -> bytes:
    cut = min((i for i in (raw.find(b"\n", 0, 65536), raw.find(b"\r", 0, 65536)) if i >= 0), default=65536)
    return raw[:cut]


def _wide_unicode(raw: bytes) -> str | None:
    """'utf-32-le' and the like when the bytes are UTF-16/32 text, with or without a byte-order mark."""
    for bom, name in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                      (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return name
    head = np.frombuffer(raw[:4096 - 4096 % 4] if len(raw) >= 8 else b"", dtype=np.uint8)
    if not len(head):
        return None
    nul = [float((head[i::4] == 0).mean()) for i in range(4)]
    if min(nul[1:]) > 0.9 and nul[0] < 0.5:
        return "utf-32-le"
    if min(nul[:3]) > 0.9 and nul[3] < 0.5:
        return "utf-32-be"
    odd, even = (nul[1] + nul[3]) / 2, (nul[0] + nul[2]) / 2
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _transcode(raw: bytes, encoding: str, file_name: str) -> bytes:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise TextDamage(_("{file}: the file looks like {encoding} text but byte {at} cannot be read as such. "
                           "Save it again as CSV UTF-8 and upload that.").format(
            file=file_name, encoding=encoding.upper(), at=exc.start)) from None
    return text.lstrip("\ufeff").encode("utf-8")


def _check_line_length(ends: np.ndarray, size: int, file_name: str) -> None:
    if size <= MAX_LINE_BYTES:
        return
    bounds = np.concatenate([[-1], ends, [size]])
    lengths = np.diff(bounds) - 1
    longest = int(np.argmax(lengths))
    if lengths[longest] > MAX_LINE_BYTES:
        raise TextDamage(_(
            "{file}: line {line} is {mb:,.1f} MB long, and a row of a listing is at most {limit:,.0f} MB. "
            "The file's line breaks were probably lost, or it is not a table; export the listing again."
        ).format(file=file_name, line=longest + 1, mb=lengths[longest] / 1e6, limit=MAX_LINE_BYTES / 1e6))


def _mark_nul_lines(body: bytes, ends: np.ndarray, damaged: dict[int, str]) -> bytes:
    """Lines holding NUL bytes (a damaged disk block, binary garbage) are rejected; the NULs are
    shown as '?' so that the line still counts as a row."""
    pos = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 0)
    for line in np.unique(_line_of(pos, ends)).tolist():
        damaged[int(line)] = _("the line holds NUL bytes (binary garbage, not text); the row was not read")
    return body.replace(b"\x00", b"?")


def _mark_bad_utf8_lines(out: Inspected, ends: np.ndarray) -> None:
    """A UTF-8 file with a few undecodable lines keeps UTF-8 for the rest; the lines are rejected.
    Any other pattern is left to the encoding detection (GBK, Latin-1...)."""
    body, bad, start = out.body, [], 0
    while len(bad) <= _MAX_BAD_UTF8_LINES:
        try:
            body[start:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            at = start + exc.start
            line = int(_line_of(np.asarray([at]), ends)[0])
            bad.append(line)
            start = int(ends[line - 1]) + 1 if line - 1 < len(ends) else len(body)
    if not bad or len(bad) > _MAX_BAD_UTF8_LINES or len(bad) * 10 > len(ends) + 1:
        return
    if not all(_is_garbage(_line_bytes(body, ends, line)) for line in bad):
        return          # text in another encoding (Latin-1, GBK): read the whole file in that encoding
    for line in bad:
        out.damaged[line] = _("the line holds bytes that are not UTF-8 text like the rest of the file; "
                              "the row was not read")
    out.body = body.decode("utf-8", errors="replace").encode("utf-8")


def _line_bytes(body: bytes, ends: np.ndarray, line: int) -> bytes:
    start = int(ends[line - 2]) + 1 if line >= 2 else 0
    stop = int(ends[line - 1]) if line - 1 < len(ends) else len(body)
    return body[start:stop]


def _is_garbage(line: bytes) -> bool:
    """Control bytes other than tab and carriage return: no text encoding writes those in a listing."""
    view = np.frombuffer(line, dtype=np.uint8)
    return bool(((view < 32) & (view != 9) & (view != 13)).any())


def _mark_unclosed_quote(out: Inspected, ends: np.ndarray) -> None:
    """An odd number of quote characters: the quote opens on the first line with an odd count (where
    a parser would start swallowing the following rows). That line is rejected and read without its
    quotes, so every other row keeps its own cells."""
    if out.body.count(b'"') % 2 == 0:          # counted in C, without a position array per quote
        return
    view = np.frombuffer(out.body, dtype=np.uint8)
    quotes = np.flatnonzero(view == 34)
    lines, counts = np.unique(_line_of(quotes, ends), return_counts=True)
    odd = lines[counts % 2 == 1]
    line = int(odd[0])
    start = int(ends[line - 2]) + 1 if line >= 2 else 0
    stop = int(ends[line - 1]) if line - 1 < len(ends) else len(out.body)
    out.body = out.body[:start] + out.body[start:stop].replace(b'"', b"") + out.body[stop:]
    out.damaged[line] = _("a quote (\") opens in this line and never closes; the row was not read. "
                          "Remove the stray quote or close it, then upload the row again")
