"""Where the profiles file lives; kept apart from the TOML code so finding it is cheap."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_ENV = "PGTOP_CONFIG"
FILE_NAME = "profiles.toml"


def profiles_path() -> Path:
    """The profiles file: ``$PGTOP_CONFIG`` if set and non-empty, else the user config dir."""
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("pgtop")) / FILE_NAME
