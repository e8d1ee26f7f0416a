"""Named connection profiles, kept in ``profiles.toml``.

Where: ``$PGTOP_CONFIG`` (the path of the file itself) if set, else
``platformdirs.user_config_dir("pgtop")/profiles.toml``.

Format: every profile is a table under ``profiles``, so ``[profiles.NAME]``. The namespace
costs six characters per header but leaves the rest of the file free for future settings
(``[ui]``, ``[keys]``, ...) without any chance of a profile called ``ui`` colliding with
them. A sample::

    # Production primary, through the bastion's port forward.
    [profiles.prod]
    host = "db1.example.com"
    port = 5432
    user = "monitor"
    dbname = "postgres"
    sslmode = "verify-full"
    pooler = "postgresql://pgbouncer@db1.example.com:6432/pgbouncer"
    refresh = 5.0
    read_only = true
    password_command = "pass show pg/prod-monitor | head -n1"

    [profiles.staging]
    uri = "postgresql://monitor@staging/postgres?sslmode=require"

    [profiles.default]
    service = "local"

Keys of a profile: ``uri`` (a libpq URI or ``key=value`` conninfo string), the libpq
keywords in `CONN_KEYWORDS` (these override what ``uri`` says, as later keywords do in
libpq), ``password`` (only written on explicit request), ``pooler`` (URI or conninfo of the
PgBouncer admin console), ``refresh`` (seconds), ``read_only`` and ``password_command``
(a shell command printing the password). Other keys are ignored with a warning but kept
when pgtop rewrites the file, as are comments, key order and other tables.

Writes are atomic (temporary file in the same directory, then ``os.replace``) with mode
0600. A file that cannot be read or parsed is reported with its line and column and is
never written over. Nothing here prints: warnings are returned as strings for the CLI.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import stat
import subprocess
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomlkit
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tomlkit.exceptions import InvalidCharInStringError, TOMLKitError, UnexpectedCharError
from tomlkit.items import Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from pgtop.target import MIN_REFRESH, ConnSettings, Target

CONFIG_ENV = "PGTOP_CONFIG"
FILE_NAME = "profiles.toml"
SECTION = "profiles"
DEFAULT_PROFILE = "default"

# libpq keywords a profile may set, in the order pgtop writes them. Secrets other than the
# password (e.g. sslpassword) are deliberately absent: they have no safe place in this file.
CONN_KEYWORDS: tuple[str, ...] = (
    "service",
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "passfile",
    "target_session_attrs",
)
_OTHER_KEYS: tuple[str, ...] = ("password", "pooler", "refresh", "read_only", "password_command")
PROFILE_KEYS: tuple[str, ...] = ("uri", *CONN_KEYWORDS, *_OTHER_KEYS)

# Variables that choose *which* server libpq reaches. Others (PGPASSWORD, PGSSLMODE,
# PGCONNECT_TIMEOUT, ...) are often exported globally and should not hide the default
# profile; PGTOP_* are ours, not libpq's.
_TARGET_ENV_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE")

# Names become TOML keys and CLI arguments: keep them plain so headers stay unquoted
# (a dot is allowed; tomlkit then writes [profiles."a.b"]).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LOCATION_SUFFIX = re.compile(r"\s+at line \d+ col \d+$")


class ProfileError(Exception):
    """A one-line, human-readable problem with the profiles file or a profile.

    Messages never contain a password, a URI that might hold one, or command output.
    """


@dataclass(frozen=True)
class Profile:
    """One named set of connection settings; `None`/empty means "not set"."""

    name: str
    conn: dict[str, str] = field(default_factory=dict)  # libpq keywords from CONN_KEYWORDS
    uri: str | None = None
    pooler: str | None = None
    refresh: float | None = None
    read_only: bool = False
    password_command: str | None = None
    password: str | None = None  # only ever saved with allow_password=True

    def __post_init__(self) -> None:
        # Copy so the caller's dict cannot change a frozen profile, and keep one home for
        # the password: a "password" keyword in conn moves to the password field.
        conn = dict(self.conn)
        password = conn.pop("password", None)
        object.__setattr__(self, "conn", conn)
        if self.password is None and password is not None:
            object.__setattr__(self, "password", password)

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"conn={self.conn!r}"]
        if self.uri is not None:
            parts.append(f"uri={redact_conninfo(self.uri)!r}")
        if self.pooler is not None:
            parts.append(f"pooler={redact_conninfo(self.pooler)!r}")
        parts += [f"refresh={self.refresh!r}", f"read_only={self.read_only!r}"]
        parts.append(f"password_command={self.password_command!r}")
        if self.password is not None:
            parts.append("password='***'")
        return f"Profile({', '.join(parts)})"

    def conn_params(self) -> dict[str, str]:
        """libpq keywords for PostgreSQL: ``uri`` expanded, keywords on top, password last."""
        params = _parse_conninfo(self.uri) if self.uri else {}
        params.update(self.conn)
        if self.password is not None:
            params["password"] = self.password
        return params

    def describe(self) -> str:
        """Password-free label of the PostgreSQL target, e.g. ``monitor@db1:5432/postgres``."""
        params = self.conn_params()
        params.pop("password", None)
        return ConnSettings(params).describe() if params else "(libpq defaults)"


# --- locating, reading ------------------------------------------------------------------


def profiles_path() -> Path:
    """The profiles file: ``$PGTOP_CONFIG`` if set and non-empty, else the user config dir."""
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir("pgtop")) / FILE_NAME


def load_profiles(path: Path | None = None) -> tuple[dict[str, Profile], list[str]]:
    """All profiles in file order, plus warnings (loose permissions, unknown keys).

    A missing file is simply empty. Raises `ProfileError` for an unreadable or unparsable
    file, or a profile with a value of the wrong type.
    """
    path = path or profiles_path()
    doc, warnings = _read_document(path)
    if doc is None:
        return {}, []
    section = _section(doc, path)
    profiles: dict[str, Profile] = {}
    if section is None:
        return profiles, warnings
    for name, table in section.items():
        if not isinstance(table, Mapping):
            raise ProfileError(f"{path}: profile {name!r} must be a table ([{SECTION}.{name}])")
        profiles[name] = _profile_from_values(name, _unwrap(table), path, warnings)
    return profiles, warnings


def _read_document(path: Path) -> tuple[TOMLDocument | None, list[str]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, []
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profiles file: {exc.strerror}") from None
    warnings = _permission_warnings(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProfileError(
            f"{path}:{line}:{col}: profiles file is not valid UTF-8; fix it by hand"
            " (pgtop will not overwrite it)"
        ) from None
    try:
        return tomlkit.parse(text), warnings
    except TOMLKitError as exc:
        raise ProfileError(_parse_error_message(path, exc)) from None


def _parse_error_message(path: Path, exc: TOMLKitError) -> str:
    line, col = getattr(exc, "line", None), getattr(exc, "col", None)
    # These errors quote the offending character, which could be part of a secret.
    if isinstance(exc, UnexpectedCharError | InvalidCharInStringError):
        reason = "unexpected character"
    else:
        reason = _LOCATION_SUFFIX.sub("", str(exc)).rstrip(".") or "invalid TOML"
    reason = " ".join(reason.split())  # always one line
    # tomlkit counts columns from 0; editors and compilers count from 1.
    where = f"{path}:{line}:{col + 1}" if line is not None and col is not None else f"{path}"
    return (
        f"{where}: cannot parse profiles file: {reason}; fix it by hand"
        " (pgtop will not overwrite it)"
    )


def _permission_warnings(path: Path) -> list[str]:
    if os.name != "posix":
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if mode & 0o077:
        # Writable by others is worse than readable: password_command runs what it says.
        return [
            f"{path} is accessible by group/others (mode {mode:04o});"
            f" it may hold passwords and commands, run: chmod 600 {path}"
        ]
    return []


def _section(doc: MutableMapping[str, Any], path: Path) -> MutableMapping[str, Any] | None:
    section = doc.get(SECTION)
    if section is not None and not isinstance(section, MutableMapping):
        raise ProfileError(f"{path}: {SECTION!r} must be a table of profiles")
    return section


def _unwrap(table: Mapping[str, Any]) -> dict[str, Any]:
    unwrap = getattr(table, "unwrap", None)
    return unwrap() if callable(unwrap) else dict(table)


# --- validation -------------------------------------------------------------------------


def _profile_from_values(
    name: str, values: Mapping[str, Any], path: Path, warnings: list[str]
) -> Profile:
    """Check types and build a Profile; shared by loading and saving so both agree."""

    def fail(key: str, wanted: str) -> ProfileError:
        # Name the type found, never the value: a misplaced password must not be echoed.
        found = type(values[key]).__name__
        return ProfileError(f"{path}: profile {name!r}: {key!r} must be {wanted} (got {found})")

    conn: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if key == "port" and isinstance(value, int) and not isinstance(value, bool):
            if not 0 < value < 65536:
                raise fail(key, "a port number between 1 and 65535")
            conn[key] = str(value)
        elif key in CONN_KEYWORDS:
            if not isinstance(value, str):
                raise fail(key, "a string")
            conn[key] = value
        elif key in ("uri", "pooler"):
            if not isinstance(value, str) or not value.strip():
                raise fail(key, "a non-empty libpq URI or conninfo string")
            try:
                _parse_conninfo(value)
            except ProfileError:
                raise ProfileError(
                    f"{path}: profile {name!r}: {key!r} is not a valid libpq URI or conninfo string"
                ) from None
            fields[key] = value
        elif key == "refresh":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(key, "a number of seconds")
            if not math.isfinite(value) or value < MIN_REFRESH:
                raise ProfileError(
                    f"{path}: profile {name!r}: 'refresh' must be at least {MIN_REFRESH} seconds"
                )
            fields[key] = float(value)
        elif key == "read_only":
            if not isinstance(value, bool):
                raise fail(key, "true or false")
            fields[key] = value
        elif key in ("password", "password_command"):
            if not isinstance(value, str) or not value:
                raise fail(key, "a non-empty string")
            fields[key] = value
        else:
            warnings.append(f"{path}: profile {name!r}: unknown key {key!r} ignored")
    return Profile(name=name, conn=conn, **fields)


def _parse_conninfo(conninfo: str) -> dict[str, str]:
    try:
        parsed = conninfo_to_dict(conninfo)
    except Exception:
        # psycopg's message quotes the string, which may contain a password.
        raise ProfileError("not a valid libpq URI or conninfo string") from None
    return {key: str(value) for key, value in parsed.items() if value is not None}


def strip_password(conninfo: str) -> tuple[str, bool]:
    """``conninfo`` without its password, and whether there was one.

    Left untouched when it holds no password; otherwise rebuilt as ``key=value`` conninfo
    (libpq and psycopg accept both forms wherever a URI is accepted).
    """
    params = _parse_conninfo(conninfo)
    if "password" not in params:
        return conninfo, False
    del params["password"]
    return make_conninfo("", **params), True


def redact_conninfo(conninfo: str) -> str:
    """A display form of a URI or conninfo with any password removed."""
    try:
        return strip_password(conninfo)[0]
    except ProfileError:
        return "<invalid conninfo>"


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ProfileError(
            f"invalid profile name {name!r}: use up to 64 letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )


# --- writing ----------------------------------------------------------------------------


def save_profile(
    profile: Profile, path: Path | None = None, *, allow_password: bool = False
) -> list[str]:
    """Create or replace one profile; returns warnings. Other content stays as it was.

    Replacing sets exactly the known keys ``profile`` sets (others are removed) and keeps
    unknown keys. Without ``allow_password`` any password (field, ``uri``, ``pooler``) is
    left out. Raises `ProfileError` if the file cannot be parsed or written.
    """
    path = path or profiles_path()
    _check_name(profile.name)
    unknown = sorted(set(profile.conn) - set(CONN_KEYWORDS))
    if unknown:
        raise ProfileError(f"profile {profile.name!r}: unknown connection keyword(s) {unknown}")
    warnings: list[str] = []
    if not allow_password:
        profile, dropped = _without_passwords(profile)
        if dropped:
            warnings.append(
                f"password not saved in profile {profile.name!r}: pgtop will use .pgpass,"
                " PGPASSWORD, the service file or a password_command"
            )
    values = _values_for_file(profile)
    _profile_from_values(profile.name, values, path, [])  # refuse what loading would refuse

    doc, read_warnings = _read_document(path)  # raises, so a corrupt file is never replaced
    if read_warnings:
        warnings.append(f"{path}: permissions tightened to 0600")
    added = False
    if doc is None:
        doc = tomlkit.document()
    section = _section(doc, path)
    if section is None:
        section = tomlkit.table(is_super_table=True)
        doc[SECTION] = section
    existing = section.get(profile.name)
    if existing is None:
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        table.add(tomlkit.nl())  # a blank line before whatever table follows
        section[profile.name] = table
        added = True
    elif isinstance(existing, MutableMapping):
        # Update in place so the table keeps its position, comments and unknown keys.
        trailing = _pop_trailing_trivia(existing) if isinstance(existing, Table) else []
        for key in PROFILE_KEYS:
            if key in values:
                existing[key] = values[key]
            elif key in existing:
                del existing[key]
        for item in trailing:  # new keys go above the comments that precede the next table
            existing.add(item)
    else:
        raise ProfileError(f"{path}: profile {profile.name!r} must be a table; fix it by hand")
    text = tomlkit.dumps(doc)
    if added:
        text = text.rstrip("\n") + "\n"  # the separator line is not wanted at end of file
    _atomic_write(path, text)
    return warnings


def delete_profile(name: str, path: Path | None = None) -> bool:
    """Remove a profile; False if there was none. Raises `ProfileError` like `save_profile`.

    TOML gives the comments between two tables to the first one; those separated from the
    removed profile's last key by a blank line describe what follows, so they stay. A
    comment just above the removed header stays too: pgtop never guesses what to drop.
    """
    path = path or profiles_path()
    doc, _ = _read_document(path)
    if doc is None:
        return False
    section = _section(doc, path)
    if section is None or name not in section:
        return False
    original = tomlkit.dumps(doc)
    text = _dumps_without(doc, section, name)
    if text is None:  # the careful cut did not check out: plain removal, comments and all
        fresh = tomlkit.parse(original)
        del fresh[SECTION][name]
        text = tomlkit.dumps(fresh)
    _atomic_write(path, text)
    return True


def _dumps_without(doc: TOMLDocument, section: MutableMapping[str, Any], name: str) -> str | None:
    """The document without profile ``name`` but with the comments that follow it."""
    table = section[name]
    kept = _following_comments(table) if isinstance(table, Table) else ""
    if not kept:
        del section[name]
        return tomlkit.dumps(doc)
    # tomlkit cannot move trivia between tables, so mark where the table's text starts
    # and ends, cut it out as text and put the kept comments back in its place.
    token = secrets.token_hex(8)
    start_mark, end_mark = f"@pgtop-start-{token}@", f"pgtop-end-{token}"
    table.trivia.indent = start_mark + table.trivia.indent
    table.add(tomlkit.comment(end_mark))
    text = tomlkit.dumps(doc)
    start = text.find(start_mark)
    end_at = text.find(end_mark)
    if start < 0 or end_at < start:
        return None
    line_start = text.rfind("\n", 0, end_at) + 1
    line_end = text.find("\n", end_at) + 1 or len(text)
    if text[line_start - len(kept) : line_start] != kept:
        return None
    if start == 0:
        kept = kept.lstrip("\n")  # no blank line at the top of the file
    result = text[:start] + kept + text[line_end:]
    # Check the cut: it must parse, and lose exactly this profile.
    try:
        check = tomlkit.parse(result).get(SECTION) or {}
    except TOMLKitError:
        return None
    expected = [key for key in section if key != name]
    return result if list(check) == expected else None


def _trailing_trivia_start(table: Table) -> int:
    """Index in the table's body of the comments and blank lines after its last key."""
    body = table.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None:
        start -= 1
    return start


def _pop_trailing_trivia(table: Table) -> list[Item]:
    # Unkeyed items are not in tomlkit's key index, so cutting them off the end is safe.
    body = table.value.body
    start = _trailing_trivia_start(table)
    trailing = [item for _, item in body[start:]]
    del body[start:]
    return trailing


def _following_comments(table: Table) -> str:
    trailing = [item for _, item in table.value.body[_trailing_trivia_start(table) :]]
    for index, item in enumerate(trailing):
        if isinstance(item, Whitespace) and "\n" in item.as_string():
            return "".join(part.as_string() for part in trailing[index:])
    return ""


def _without_passwords(profile: Profile) -> tuple[Profile, bool]:
    dropped = profile.password is not None
    uri, pooler = profile.uri, profile.pooler
    try:
        if uri is not None:
            uri, found = strip_password(uri)
            dropped |= found
        if pooler is not None:
            pooler, found = strip_password(pooler)
            dropped |= found
    except ProfileError as exc:
        raise ProfileError(f"profile {profile.name!r}: {exc}") from None
    stripped = Profile(
        name=profile.name,
        conn=profile.conn,
        uri=uri,
        pooler=pooler,
        refresh=profile.refresh,
        read_only=profile.read_only,
        password_command=profile.password_command,
    )
    return stripped, dropped


def _values_for_file(profile: Profile) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if profile.uri is not None:
        values["uri"] = profile.uri
    for key in CONN_KEYWORDS:
        value = profile.conn.get(key)
        if value is None:
            continue
        # A single port reads better as a TOML integer; "5432,5433" must stay a string.
        values[key] = int(value) if key == "port" and value.isdigit() else value
    if profile.password is not None:
        values["password"] = profile.password
    if profile.pooler is not None:
        values["pooler"] = profile.pooler
    if profile.refresh is not None:
        values["refresh"] = float(profile.refresh)
    if profile.read_only:
        values["read_only"] = True
    if profile.password_command is not None:
        values["password_command"] = profile.password_command
    return values


def _atomic_write(path: Path, text: str) -> None:
    # Write through a symlink (dotfile managers link this file) rather than replacing it.
    target = Path(os.path.realpath(path))
    try:
        _make_private_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot write profiles file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # mkstemp already uses 0600; say so rather than rely on it
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ProfileError(f"{path}: cannot write profiles file: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _make_private_dirs(directory: Path) -> None:
    # Path.mkdir(parents=True) ignores `mode` for the parents; create each level ourselves,
    # and leave the mode of directories that already exist (e.g. ~/.config) alone.
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level, 0o700)


# --- using profiles ---------------------------------------------------------------------


def profile_to_target(
    profile: Profile,
    *,
    conn_overrides: Mapping[str, str | None] | None = None,
    pooler: str | None = None,
    refresh: float | None = None,
    read_only: bool | None = None,
    password_command: str | None = None,
) -> Target:
    """The `Target` a profile describes; arguments given on the command line win.

    `None` means "not given on the command line". ``conn_overrides`` holds libpq keywords
    (e.g. ``{"host": args.host}`` or `conninfo_to_dict` of a positional URI).
    """
    params = profile.conn_params()
    for key, value in (conn_overrides or {}).items():
        if value is not None:
            params[key] = value
    chosen_refresh = refresh if refresh is not None else profile.refresh
    target = Target(
        postgres=ConnSettings(params),
        pooler=pooler if pooler is not None else profile.pooler,
        read_only=read_only if read_only is not None else profile.read_only,
        password_command=(
            password_command if password_command is not None else profile.password_command
        ),
        profile_name=profile.name,
    )
    return target if chosen_refresh is None else target.replace(refresh=chosen_refresh)


def use_default_profile(environ: Mapping[str, str], conn_args_given: bool) -> bool:
    """Whether the ``default`` profile applies: no connection arguments, no PG* target vars."""
    if conn_args_given:
        return False
    return not any(environ.get(var) for var in _TARGET_ENV_VARS)


def format_profile_list(profiles: Mapping[str, Profile], path: Path | None = None) -> str:
    """The ``--list-profiles`` table: name, password-free target, flags."""
    if not profiles:
        return f"no profiles in {path or profiles_path()}"
    rows = [("NAME", "TARGET", "FLAGS")]
    for name, profile in profiles.items():
        flags: list[str] = []
        if profile.read_only:
            flags.append("read-only")
        if profile.pooler:
            flags.append(f"pooler={_describe_conninfo(profile.pooler)}")
        if profile.refresh is not None:
            flags.append(f"refresh={profile.refresh:g}s")
        if profile.password_command:
            flags.append("password_command")
        if profile.password is not None or _has_password(profile.uri):
            flags.append("saved-password")
        rows.append((name, _describe_profile(profile), ", ".join(flags)))
    width_name = max(len(row[0]) for row in rows)
    width_target = max(len(row[1]) for row in rows)
    lines = [f"{n:<{width_name}}  {t:<{width_target}}  {f}".rstrip() for n, t, f in rows]
    return "\n".join(lines)


def _describe_profile(profile: Profile) -> str:
    try:
        return profile.describe()
    except ProfileError:
        return "<invalid uri>"


def _describe_conninfo(conninfo: str) -> str:
    try:
        params = _parse_conninfo(conninfo)
    except ProfileError:
        return "<invalid>"
    params.pop("password", None)
    return ConnSettings(params).describe()


def _has_password(conninfo: str | None) -> bool:
    if not conninfo:
        return False
    try:
        return "password" in _parse_conninfo(conninfo)
    except ProfileError:
        return False


# --- password_command -------------------------------------------------------------------


def run_password_command(command: str, timeout: float = 10.0) -> str:
    """Run ``command`` in the shell and return its stdout minus the trailing newline.

    stdin and stderr stay the terminal's so unlock prompts (gpg, pass, op) work; run it
    before the UI takes the screen. Raises `ProfileError` with a one-line message that never
    quotes the output, for a failure, a timeout, empty output or more than one line.
    """
    try:
        result = subprocess.run(
            command, shell=True, stdout=subprocess.PIPE, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        # `from None`: the TimeoutExpired carries the partial output.
        raise ProfileError(f"password_command did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ProfileError(f"password_command could not be started: {exc.strerror}") from None
    if result.returncode < 0:
        raise ProfileError(f"password_command was killed by signal {-result.returncode}")
    if result.returncode != 0:
        hint = " (command not found)" if result.returncode == 127 else ""
        raise ProfileError(f"password_command exited with status {result.returncode}{hint}")
    try:
        text = result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError("password_command printed something that is not UTF-8") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ProfileError("password_command printed nothing")
    if "\n" in text or "\r" in text:
        # e.g. `pass show` prints metadata after the password; never guess which line.
        raise ProfileError(
            "password_command printed more than one line; make it print only the password"
            " (e.g. append | head -n1)"
        )
    return text


def apply_password_command(target: Target, timeout: float = 10.0) -> Target:
    """``target`` with the password from its password_command, unless it already has one."""
    if not target.password_command or target.postgres.get("password") is not None:
        return target
    try:
        password = run_password_command(target.password_command, timeout)
    except ProfileError as exc:
        where = f"profile {target.profile_name!r}: " if target.profile_name else ""
        raise ProfileError(f"{where}{exc}") from None
    return target.replace(postgres=target.postgres.with_overrides(password=password))
