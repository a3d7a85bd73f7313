"""Print the report's HTML to an A4 PDF with Debian's Chromium (``chromium --headless
--print-to-pdf``), the same engine that draws the charts: plotly's JavaScript runs, and the page
margins carry the running header and page numbers from the HTML's own ``@page`` rules (CSS margin
boxes), so the PDF and a reader's own "Print" of the HTML look alike. No Python package and no
download is needed (README, "Committee report")."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--run-all-compositor-stages-before-draw", "--virtual-time-budget=30000"]


class PdfError(RuntimeError):
    """The PDF could not be made, in words for the person who asked for it."""


def chromium_path() -> str:
    path = os.environ.get("TOXDB_CHROMIUM") or next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None) \
        or shutil.which("chromium")
    if not path:
        raise PdfError("no Chromium found for printing the PDF: install Debian's chromium package "
                       "(apt-get install chromium) or set TOXDB_CHROMIUM; the HTML report works without it")
    return path


def render_report_pdf(html_text: str, out: str | os.PathLike, timeout: float = 300) -> Path:
    """Write ``html_text`` printed as A4 PDF to ``out`` (a fresh Chromium profile, no network)."""
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="toxdb-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        cmd = [chromium_path(), *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}",
               page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing the PDF within {timeout:.0f} s") from None
        if not target.exists() or target.stat().st_size == 0:
            raise PdfError("Chromium did not write the PDF: " + (done.stderr.strip()[-500:] or f"exit {done.returncode}"))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), out)
    return out


def render_report_pdf_bytes(html_text: str, timeout: float = 300) -> bytes:
    """The PDF as bytes (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="toxdb-pdf-out-") as tmp:
        return render_report_pdf(html_text, Path(tmp) / "report.pdf", timeout).read_bytes()
