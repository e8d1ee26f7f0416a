"""libpq's connection service file: `service=name` expanded as psql would.

Looked up in the `servicefile` keyword, $PGSERVICEFILE or ~/.pg_service.conf first, then
$PGSYSCONFDIR/pg_service.conf; the first file that defines the service wins. asyncpg reads
only the user file, ignores $PGSERVICE, and psycopg's `conninfo_to_dict` (libpq's
`PQconninfoParse`) does not expand services at all, so pgtop does it here.

The format is libpq's, not an INI dialect: `[name]` lines, `key=value` lines, `#`
comments. configparser would also take `:` and `;`, continuation lines and a magic
`[DEFAULT]` section, none of which libpq knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# Where Debian's libpq looks when PGSYSCONFDIR is unset (`pg_config --sysconfdir`).
DEFAULT_SYSCONFDIR = "/etc/postgresql-common"


class ServiceError(Exception):
    """A service that cannot be expanded; the message is one line for people."""


def _read_service(path: Path, name: str) -> dict[str, str] | None:
    """The keywords of [name] in the file at `path`, or None when it is not defined there."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ServiceError(f"cannot read service file {path}: {exc.strerror}") from None
    found: dict[str, str] | None = None
    in_section = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if found is not None:
                break  # the service's section ended
            in_section = line == f"[{name}]"
            if in_section:
                found = {}
            continue
        if not in_section or found is None:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ServiceError(f"syntax error in service file {path}, line {number}")
        if key == "service":
            raise ServiceError(f"nested service specifications not supported in {path}")
        found.setdefault(key, value.strip())  # libpq keeps the first of a repeated key
    return found


def service_files(params: Mapping[str, str], environ: Mapping[str, str]) -> list[Path]:
    """The files libpq would search, in order."""
    user_file = params.get("servicefile") or environ.get("PGSERVICEFILE")
    files = [Path(user_file) if user_file else Path.home() / ".pg_service.conf"]
    sysconf = environ.get("PGSYSCONFDIR") or DEFAULT_SYSCONFDIR
    files.append(Path(sysconf) / "pg_service.conf")
    return files


def expand_service(params: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """`params` with the service's keywords filled in where `params` does not set them.

    The service comes from the `service` keyword or $PGSERVICE. Keywords given directly
    win over the service's, and the service's over PG* variables, as in libpq.
    """
    out = dict(params)
    name = out.pop("service", None) or environ.get("PGSERVICE")
    out.pop("servicefile", None)
    if not name:
        return out
    for path in service_files(params, environ):  # a missing file is skipped, as in libpq
        found = _read_service(path, name)
        if found is not None:
            for key, value in found.items():
                out.setdefault(key, value)
            return out
    raise ServiceError(f'definition of service "{name}" not found')
