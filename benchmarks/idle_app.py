"""Textual's cost of repainting a screen, the reference for pgtop's profile (run.py
--profile): an otherwise empty Textual app with a Footer and one static screen of 40 lines,
updated with the same content once a second, so that Textual repaints all 40 lines (pgtop
repaints ~40 a second too, as its ages tick). Repainting nothing, the same app costs
~0.08 CPU s/min, about a sixth of this. Owns nothing."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Static

TEXT = "\n".join(f"{100000 + i:>7} idle     ClientRead  shop  app  SELECT 1" for i in range(40))


class IdleApp(App[None]):
    BINDINGS = [("q", "quit", "Quit"), ("slash", "bell", "Filter"), ("s", "bell", "Sort")]

    def compose(self) -> ComposeResult:
        self.body = Static(TEXT)
        yield self.body
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, lambda: self.body.update(TEXT))


if __name__ == "__main__":
    IdleApp().run()
