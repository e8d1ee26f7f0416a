"""A server's environment label ("prod", in its profile's colour): on the fleet line, in
the header and in every confirmation. Pure functions; nothing here holds state."""

from __future__ import annotations

from rich.text import Text

from pgtop.model.format import one_line

ENV_WIDTH = 16  # the longest label shown; any word may be set


def env_style(colour: str | None) -> str:
    """Reversed, in the profile's colour when it has one (profiles check the name)."""
    return f"bold reverse {colour}" if colour else "bold reverse"


def env_label(env: str | None, colour: str | None) -> Text:
    """ " prod " in its colour; empty without an environment."""
    if not env:
        return Text()
    return Text(f" {one_line(env, ENV_WIDTH)} ", env_style(colour))
