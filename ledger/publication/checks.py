"""Start-up checks for publishing: HarfBuzz subsetting for WeasyPrint.

WeasyPrint 70 embeds fonts subsetted: with HarfBuzz's subsetter (``hb_subset``, from
libharfbuzz-subset.so.0, which ``weasyprint.text.ffi`` opens with ``allow_fail=True``) when
it loaded and HarfBuzz is at least 4.1.0, otherwise with fontTools
(``weasyprint.pdf.fonts.Font.subset``). fontTools takes 5.5–6.3 s to subset the 20 MB Noto
CJK font of a one-page notice, against 80 ms for HarfBuzz: the check warns when
``manage.py check``, ``runserver`` or ``migrate`` start without it, and names the package.
It also warns when the CJK serif the PDF is set in is missing (boxes instead of Chinese).
"""

from __future__ import annotations

import logging
import shutil
import subprocess

from django.core.checks import Warning, register

HARFBUZZ_PACKAGE = "libharfbuzz-subset0"
FONT_PACKAGE = "fonts-noto-cjk"
PDF_FONT = "Noto Serif CJK SC"

# WeasyPrint logs every step of every render at INFO ("Step 2 - Fetching and parsing CSS"):
# noise in a server's log. Its warnings (a refused URL, a missing font) still show.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def harfbuzz_subset_available() -> tuple[bool, str]:
    """Whether WeasyPrint will subset fonts with HarfBuzz, and why not if it will not."""
    try:
        from weasyprint.text.ffi import harfbuzz, harfbuzz_subset
    except Exception as error:
        return False, f"WeasyPrint cannot load its libraries: {error}"
    if harfbuzz_subset is None:
        return False, "libharfbuzz-subset.so.0 could not be loaded"
    if not harfbuzz.hb_version_atleast(4, 1, 0):
        return False, "HarfBuzz is older than 4.1.0"
    return True, ""


def font_available(family: str = PDF_FONT) -> bool | None:
    """True/False from fontconfig's fc-list; None when fc-list is not there to ask."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return None
    try:
        out = subprocess.run(
            [fc_list, family], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.strip())


@register()
def check_pdf_rendering(app_configs=None, **kwargs):
    warnings = []
    ok, why = harfbuzz_subset_available()
    if not ok:
        warnings.append(
            Warning(
                f"HarfBuzz font subsetting is unavailable ({why}): WeasyPrint falls back to "
                "fontTools, which takes seconds per PDF with the CJK fonts.",
                hint=f"Install the Debian package {HARFBUZZ_PACKAGE} "
                f"(apt-get install {HARFBUZZ_PACKAGE}).",
                id="publication.W001",
            )
        )
    if font_available() is False:
        warnings.append(
            Warning(
                f"The font {PDF_FONT} is not installed: notice PDFs would show boxes instead "
                "of Chinese text.",
                hint=f"Install the Debian package {FONT_PACKAGE}.",
                id="publication.W002",
            )
        )
    return warnings
