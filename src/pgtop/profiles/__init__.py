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
The file is the only state: `store.save_profile` and `store.delete_profile` are its only
writers (called by `pgtop --save-profile/--delete-profile` and the app's save-profile
key); everything else reads it or works on immutable `Profile` records.

Modules: `record` (the `Profile` and password-free conninfo helpers), `schema` (what a
profile table may hold), `store` (reading and rewriting the file), `comments` (keeping
comments in place), `atomic` (the 0600 atomic write), `password` (``password_command``),
`target` (profile to `Target`), `listing` (``--list-profiles``) and `errors`
(`ProfileError`, alone so that a live start needs no profile code).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pgtop.profiles.errors import ProfileError
    from pgtop.profiles.listing import format_profile_list
    from pgtop.profiles.password import apply_password_command, run_password_command
    from pgtop.profiles.paths import CONFIG_ENV, FILE_NAME, profiles_path
    from pgtop.profiles.record import (
        CONN_KEYWORDS,
        PROFILE_KEYS,
        Profile,
        redact_conninfo,
        strip_password,
    )
    from pgtop.profiles.store import SECTION, delete_profile, load_profiles, save_profile
    from pgtop.profiles.target import DEFAULT_PROFILE, profile_to_target, use_default_profile

# Loaded on first use: tomlkit and libpq (through psycopg's conninfo parser) cost ~28 MB,
# and most runs of pgtop never touch a profile.
_HOME = {
    "format_profile_list": "listing",
    "apply_password_command": "password",
    "run_password_command": "password",
    "CONN_KEYWORDS": "record",
    "PROFILE_KEYS": "record",
    "Profile": "record",
    "ProfileError": "errors",
    "redact_conninfo": "record",
    "strip_password": "record",
    "CONFIG_ENV": "paths",
    "FILE_NAME": "paths",
    "SECTION": "store",
    "delete_profile": "store",
    "load_profiles": "store",
    "profiles_path": "paths",
    "save_profile": "store",
    "DEFAULT_PROFILE": "target",
    "profile_to_target": "target",
    "use_default_profile": "target",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'pgtop.profiles' has no attribute {name!r}")
    return getattr(import_module(f"pgtop.profiles.{module}"), name)


__all__ = [
    "CONFIG_ENV",
    "CONN_KEYWORDS",
    "DEFAULT_PROFILE",
    "FILE_NAME",
    "PROFILE_KEYS",
    "SECTION",
    "Profile",
    "ProfileError",
    "apply_password_command",
    "delete_profile",
    "format_profile_list",
    "load_profiles",
    "profile_to_target",
    "profiles_path",
    "redact_conninfo",
    "run_password_command",
    "save_profile",
    "strip_password",
    "use_default_profile",
]
