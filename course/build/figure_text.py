"""Kernel-side hook for the solutions build: each PNG figure carries the size of its smallest text.

Why: slides show the solutions' figures on a projector, where text under 12 px at 1280×720 cannot be read
(issue 19). A PNG holds pixels, not text, so the size is taken where it is known, while matplotlib draws the
figure: every text it actually draws (titles, labels, tick labels, legends, annotations; not those of axes
switched off) is noted, and the smallest, in pixels of the PNG, goes into the PNG as a ``tEXt`` chunk named
:data:`KEY`. The slides builder copies it onto the ``<img>``, and the browser test scales it by the size the
image is shown at.

:data:`HOOK` is run by the solution kernel before the first cell (``execute.run(..., startup=HOOK)``);
students never run it, and the release notebooks do not contain it.
"""
from __future__ import annotations

import base64
import struct

KEY = "course-min-text-px"

HOOK = f'''
def _course_figure_text_hook():
    import matplotlib.backend_bases as bases
    import matplotlib.text as mtext
    drawn = []
    original_draw = mtext.Text.draw

    def draw(self, renderer):
        if renderer is not None and self.get_visible() and self.get_text().strip():
            drawn.append(float(self.get_fontsize()))
        return original_draw(self, renderer)

    mtext.Text.draw = draw
    original_print = bases.FigureCanvasBase.print_figure

    def print_figure(self, filename, *args, **kwargs):
        if str(kwargs.get("format", "")).lower() == "png":
            dpi = kwargs.get("dpi")
            dpi = self.figure.dpi if dpi in (None, "figure") else float(dpi)
            drawn.clear()
            self.figure.canvas.draw()
            smallest = f"{{min(drawn) * dpi / 72:.2f}}" if drawn else "none"
            kwargs["metadata"] = {{**(kwargs.get("metadata") or {{}}), "{KEY}": smallest}}
        return original_print(self, filename, *args, **kwargs)

    bases.FigureCanvasBase.print_figure = print_figure


_course_figure_text_hook()
del _course_figure_text_hook
'''


def recorded(png_base64: str) -> str | None:
    """What the hook wrote into a PNG: its smallest text in the PNG's pixels (``"13.33"``), ``"none"`` for a
    figure without text, or None when the PNG was not made by a solutions build with the hook.

    Why only ``tEXt``: the hook's value is ASCII, which matplotlib writes as a plain ``tEXt`` chunk.
    """
    data = base64.b64decode(png_base64)
    at = 8  # after the PNG signature: chunks of length, type, body, CRC
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"tEXt":
            key, _, value = data[at + 8:at + 8 + length].partition(b"\0")
            if key == KEY.encode():
                return value.decode("latin-1")
        elif kind == b"IEND":
            break
        at += 12 + length
    return None
