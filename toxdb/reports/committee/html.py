"""The committee report as one self-contained HTML page: plotly.js inline (no network needed), every
text escaped (user-supplied text is shown as text, never as markup), and print CSS for A4: a running
header (trial, cut, data hash, who built it and when) and page numbers in the page margins, figures
never split (``break-inside: avoid``), table headers repeated on every page (``thead``)."""
from __future__ import annotations

import html
import re

import pandas as pd

from toxdb.i18n import _
from toxdb.plots.committee import figure_html, plotly_bundle
from toxdb.reports.committee.model import (
    CommitteeReport,
    ReportFigure,
    ReportTable,
    ReportText,
)

SMALL_TABLE_ROWS = 18        # tables this short are kept on one page
_NUMBER = re.compile(r"^[-+]?\d[\d.,]*(\s*\([^)]*\))?%?$|^–$")

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #bbb; --soft: #f3f4f6; --alert: #b42318; --ok: #05603a; }
body { font-family: "Source Sans Pro", Arial, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: var(--ink); font-size: 10.5pt; line-height: 1.35; max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 17pt; margin: 0 0 4mm; border-bottom: 2px solid var(--ink); padding-bottom: 1mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; break-after: avoid; page-break-after: avoid; }
p { margin: 1.5mm 0; }
.cover h1 { border: 0; font-size: 20pt; margin-bottom: 2mm; }
.cover .subtitle { color: var(--muted); margin-bottom: 4mm; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 1mm 0; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border-bottom: 1px solid var(--rule); padding: 1.2mm 1.6mm; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; border-bottom: 1.5px solid var(--ink); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.nw { white-space: nowrap; }
tr.any td { font-weight: 700; background: #eef2f7; }
tr.soc td { font-weight: 600; }
tr.term td:nth-child(2) { padding-left: 6mm; }
table.facts { width: auto; }
table.facts th { background: none; border-bottom: 1px solid var(--rule); text-align: left; padding-right: 6mm; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
.footnote { font-size: 8.5pt; color: var(--muted); margin-top: 1mm; }
.note { font-size: 9pt; font-style: italic; }
.empty { font-style: italic; color: var(--muted); }
.block { margin-bottom: 5mm; }
.keep { break-inside: avoid; page-break-inside: avoid; }
figure { margin: 0 0 5mm; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 8.5pt; color: var(--muted); }
.text.alert { border-left: 4px solid var(--alert); padding-left: 3mm; }
.text.ok { border-left: 4px solid var(--ok); padding-left: 3mm; }
.text.alert strong { color: var(--alert); }
section.report-section { break-before: page; page-break-before: always; }
section.report-section:first-of-type { break-before: auto; }
.section-label { display: inline-block; font-size: 9pt; font-weight: 700; letter-spacing: .06em;
                 text-transform: uppercase; padding: .5mm 2mm; border: 1.5px solid var(--ink); }
.closed .section-label { color: var(--alert); border-color: var(--alert); }
nav ol { columns: 2; font-size: 9pt; }
@media print {
  body { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
}
"""


def css_string(text: str) -> str:
    """Text as a CSS string literal (for the page-margin boxes): quotes, backslashes, line breaks and
    '<' escaped, so no user text can end the string or the style element."""
    out = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ").replace("<", "\\3C ")
    return f'"{out}"'


def page_css(report: CommitteeReport) -> str:
    s = report.summary
    cut = s["cut_name"] or _("cut")
    left = _("{trial} · {cut} ({date}) · data hash {hash}").format(
        trial=s["trial_id"], cut=cut, date=s["cut_date"], hash=s["data_hash"][:16])
    right = _("built by {user}, {when}").format(user=s["built_by"], when=f"{s['built_at']:%Y-%m-%d %H:%M}")
    page = _("Page {page} of {pages}")
    a, rest = page.split("{page}", 1)
    b, c = rest.split("{pages}", 1)
    number = f'{css_string(a)} counter(page) {css_string(b)} counter(pages) {css_string(c)}'
    confidential = _("Confidential: data-safety committee")
    box = "font-family: Arial, 'Noto Sans CJK SC', sans-serif; font-size: 7.5pt; color: #555;"
    return (f"@page {{ size: A4; margin: 17mm 12mm 15mm 12mm;"
            f" @top-left {{ content: {css_string(left)}; {box} }}"
            f" @top-right {{ content: {css_string(right)}; {box} }}"
            f" @bottom-right {{ content: {number}; {box} }}"
            f" @bottom-left {{ content: {css_string(confidential)}; {box} }} }}")


def _esc(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return html.escape(str(value))


def _cell_class(value, numeric: bool) -> str:
    """num: right-aligned; nw: a short word without spaces (ids, dates) that must not wrap."""
    if numeric:
        return "num"
    text = str(value) if value is not None else ""
    return "nw" if len(text) <= 14 and " " not in text else ""


def render_table(t: ReportTable, number: int) -> str:
    cols = [c for c in t.frame.columns if c != t.row_class]
    keep = " keep" if len(t.frame) <= SMALL_TABLE_ROWS else ""
    parts = [f'<div class="block table{keep}" id="{html.escape(t.key)}">',
             "<h2>" + _("Table {n}").format(n=number) + f". {html.escape(t.title)}</h2>"]
    if t.frame.empty:
        parts.append(f'<p class="empty">{html.escape(t.empty_text or _("No rows."))}</p>')
    else:
        numeric = {c: t.frame[c].map(lambda v: bool(_NUMBER.match(str(v))) or isinstance(v, (int, float))).all()
                   for c in cols}
        head = "".join(f'<th class="{"num" if numeric[c] else ""}">{html.escape(t.header(c))}</th>' for c in cols)
        body = []
        for row in t.frame.itertuples(index=False):
            rec = dict(zip(t.frame.columns, row))
            cells = "".join(
                f'<td class="{_cell_class(rec[c], numeric[c])}">'
                f'{_esc(_(rec[c]) if c in t.translate and isinstance(rec[c], str) and rec[c] else rec[c])}</td>'
                for c in cols)
            cls = f' class="{html.escape(str(rec[t.row_class]))}"' if t.row_class else ""
            body.append(f"<tr{cls}>{cells}</tr>")
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    if t.note:
        parts.append(f'<p class="note">{html.escape(t.note)}</p>')
    parts.append(f'<p class="footnote">{html.escape(t.footnote)}</p></div>')
    return "".join(parts)


def render_figure(f: ReportFigure, number: int) -> str:
    label = _("Figure {n}").format(n=number)
    div = figure_html(f.figure, f"fig-{f.key}")
    return (f'<figure class="block figure" id="{html.escape(f.key)}"><h2>{label}. {html.escape(f.title)}</h2>{div}'
            f"<figcaption>{label}. {html.escape(f.caption)}</figcaption></figure>")


def render_text(t: ReportText) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in t.paragraphs)
    return f'<div class="block text {t.tone} keep" id="{html.escape(t.key)}"><h2>{html.escape(t.title)}</h2>{paras}</div>'


def _cover(report: CommitteeReport) -> str:
    s = report.summary
    rows = [(_("Trial"), f"{s['trial_id']}: {s['title']}"),
            (_("Data cut"), s["cut_name"] or _("(not a saved cut)")),
            (_("Cut date"), str(s["cut_date"])),
            (_("Data frozen at"), f"{s['frozen_at']:%Y-%m-%d %H:%M}" if s["frozen_at"] else _("data as stored now")),
            (_("Sections"), {"all": _("open and closed"), "open": _("open only"), "closed": _("closed only")}
             [s["section"]]),
            (_("Built by"), s["built_by"]), (_("Built at"), f"{s['built_at']:%Y-%m-%d %H:%M}")]
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    facts += "<tr><th>" + _("Data hash") + f'</th><td class="hash">{html.escape(s["data_hash"])}</td></tr>'
    hash_note = _("The data hash is computed from the numbers of every table and figure, not from when or by whom "
                  "the report was built: the same data give the same hash.")
    head_note = _("The audit log head is the number and hash of the newest audit entry when the report was built. "
                  "Keep this report: python -m toxdb audit verify --expect with that head finds entries deleted "
                  "from the log since (D68).")
    if s.get("audit_head"):
        facts += "<tr><th>" + _("Audit log head") + f'</th><td class="hash">{html.escape(s["audit_head"])}</td></tr>'
    return (f'<header class="cover"><h1>{html.escape(_("Data-safety committee report"))}</h1>'
            f'<p class="subtitle">{html.escape(s["title"])}</p><table class="facts">{facts}</table>'
            f'<p class="footnote">{html.escape(hash_note)}</p>'
            f'<p class="footnote">{html.escape(head_note)}</p></header>')


def render_report_html(report: CommitteeReport) -> str:
    """One HTML page: cover, contents, the sections in order; plotly.js inline."""
    n_table = n_fig = 0
    body, toc = [], []
    for s in report.sections:
        parts = [f'<section class="report-section {s.key}"><span class="section-label">{html.escape(s.title)}</span>'
                 f"<h1>{html.escape(s.title)}</h1><p>{html.escape(s.intro)}</p>"]
        for b in s.blocks:
            if isinstance(b, ReportTable):
                n_table += 1
                parts.append(render_table(b, n_table))
            elif isinstance(b, ReportFigure):
                n_fig += 1
                parts.append(render_figure(b, n_fig))
            else:
                parts.append(render_text(b))
            toc.append(f'<li><a href="#{html.escape(b.key)}">{html.escape(b.title)}</a></li>')
        body.append("".join(parts) + "</section>")
    lang = "zh-CN" if report.summary.get("language") == "zh_CN" else "en"
    name, contents = _("Data-safety committee report"), _("Contents")
    title = f"{report.summary['trial_id']} · {name} · {report.summary['cut_date']}"
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}{page_css(report)}</style><script>{plotly_bundle()}</script></head><body>"
            f"{_cover(report)}<nav><h2>{contents}</h2><ol>{''.join(toc)}</ol></nav>{''.join(body)}</body></html>")
