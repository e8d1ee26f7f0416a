"""Turning a profile into the `Target` pgtop watches, and when the default profile applies."""

from __future__ import annotations

from collections.abc import Mapping

from pgtop.model.thresholds import thresholds_from  # not via findings: start-up time
from pgtop.profiles.record import Profile
from pgtop.target import ConnSettings, Target

DEFAULT_PROFILE = "default"

# Variables that choose *which* server libpq reaches. Others (PGPASSWORD, PGSSLMODE,
# PGCONNECT_TIMEOUT, ...) are often exported globally and should not hide the default
# profile; PGTOP_* are ours, not libpq's.
_TARGET_ENV_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE")


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
        findings=thresholds_from(profile.findings),  # issue 18; checked when loaded
        env=profile.env,
        colour=profile.colour,
        poolers=profile.poolers,
    )
    return target if chosen_refresh is None else target.replace(refresh=chosen_refresh)


def use_default_profile(environ: Mapping[str, str], conn_args_given: bool) -> bool:
    """Whether the ``default`` profile applies: no connection arguments, no PG* target vars."""
    if conn_args_given:
        return False
    return not any(environ.get(var) for var in _TARGET_ENV_VARS)
