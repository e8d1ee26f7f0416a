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
the content width. Textual asks for every line of a widget at each repaint, but sends the
terminal only the lines marked dirty: like Textual's pass, this calls `render_line` only
for those (or lines never drawn) and reuses the last strip of the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


# A mixin, not a Widget subclass: a Widget in the bases would bring its own default CSS
# after the scroll view's (overflow hidden: the sessions table could no longer scroll
# its cursor into view). Type checkers see the Widget methods it calls.
_Mixin = Widget if TYPE_CHECKING else object


class PlainLines(_Mixin):
    def render_lines(self, crop: Region) -> list[Strip]:
        if not _plain(self):
            return super().render_lines(crop)
        width = self.region.width
        background = self.background_colors[1]
        filters = self.get_line_filters()
        render_line = self.render_line
        # The lines Textual's pass keeps, kept the same way (its cache, Textual's private
        # state): a line is drawn again only when marked dirty (refresh) or never drawn.
        # Textual may ask for lines beside the dirty ones, and a widget such as the
        # sessions table notes in render_line what a line shows: drawing a line it did
        # not mark would make it skip the line's next change.
        cache = self._styles_cache
        if width != cache._width:
            cache.clear()
            cache._width = width
        drawn, dirty = cache._cache, cache._dirty_lines
        strips = []
        for y in crop.line_range:
            strip = drawn.get(y) if y not in dirty else None
            if strip is None:
                strip = drawn[y] = render_line(y)
            for line_filter in filters:  # the app's (e.g. ANSI colours to true colour)
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        dirty.difference_update(crop.line_range)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips
