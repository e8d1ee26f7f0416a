"""Painting a Line-API widget's lines without Textual's per-line styling pass.

Textual paints every line of a widget through its styles cache, which, for each line,
reads the widget's border, outline, padding, tint, opacity and hatch, builds closures for
them and copies the line into a new Strip, whether or not any of them is set. A widget
whose CSS adds none of these paints exactly what its `render_line` returns (then the
app's line filters, then the crop). Under churn the sessions table repaints most of its
~35 rows each second (their ages tick), and that pass was ~5 % of pgtop's CPU.

`PlainLines.render_lines` takes that short path while the widget's styles are plain, and
Textual's own path otherwise (a theme or a later CSS change that adds padding or a
border is drawn as Textual draws it). The widget's `render_line` must return strips of
the content width; it is called for every line asked for, so it must be cheap for a line
that did not change (the sessions table keeps its strips' parts per session).
"""

from __future__ import annotations

from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


def _plain(widget: Widget) -> bool:
    """Nothing of the widget's CSS draws around or over its content."""
    styles = widget.styles
    return (
        not any(edge for edge, _ in styles.border)
        and not any(edge for edge, _ in styles.outline)
        and not any(styles.padding)
        and not styles.tint.a
        and widget.opacity == 1.0
        and styles.text_opacity == 1.0
        and (not styles.has_rule("hatch") or styles.hatch == "none")
        and widget._border_title is None
        and widget._border_subtitle is None
    )


class PlainLines(Widget):
    def render_lines(self, crop: Region) -> list[Strip]:
        if not _plain(self):
            return super().render_lines(crop)
        width = self.region.width
        background = self.background_colors[1]
        filters = self.get_line_filters()
        render_line = self.render_line
        strips = []
        for y in crop.line_range:
            strip = render_line(y)
            for line_filter in filters:  # the app's (e.g. ANSI colours to true colour)
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [_crop(strip, x1, x2) for strip in strips]
        return strips


def _crop(strip: Strip, x1: int, x2: int) -> Strip:
    """`strip.crop(x1, x2)`, as a slice when the span lies in its first segment and that
    is printable ASCII (one cell per character). The sessions table asks for the left
    part of most rows each second (up to the last age that ticked), all inside the first
    segment; Strip.crop splits segments by cell widths in Python."""
    first = next(iter(strip), None)
    if first is not None and not first.control and x2 <= len(first.text):
        text = first.text
        if text.isascii() and text.isprintable():
            return Strip([Segment(text[x1:x2], first.style)], x2 - x1)
    return strip.crop(x1, x2)
