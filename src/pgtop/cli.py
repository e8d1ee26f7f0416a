"""Command line: turn argv into an `Invocation` (what to run, on which Target, with which
options) and hand it to the runners in `pgtop.modes`. Nothing here connects or draws.

Connection arguments follow psql: `pgtop [DBNAME | URI | "key=value ..."]`, -h -p -U -d -W,
and every PG* variable, .pgpass and the service file work as libpq would.
Exit codes (pgtop.exit_codes): 0 success, 1 connection or permission failure, 2 bad usage.
This module holds no state: each call parses afresh.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pgtop import __version__
from pgtop.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgtop.invocation import Invocation, Member, Mode

if TYPE_CHECKING:
    from pgtop.headless.options import HeadlessOptions
from pgtop.target import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REFRESH,
    MIN_REFRESH,
    ConnSettings,
    Target,
    pooler_uri_problem,
    redact,
)

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "UsageError", "parse", "run"]


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"pgtop: {message} (see pgtop --help)\n")


def _seconds(minimum: float):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g} s, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pgtop",
        add_help=False,  # -h is --host, as in psql
        description="Terminal activity monitor for PostgreSQL and PgBouncer.",
        epilog="Connection settings also come from PGHOST, PGPORT, PGUSER, PGDATABASE, "
        "PGPASSWORD, PGSERVICE, PGSSLMODE, ~/.pgpass and the service file, as in psql.",
    )
    p.add_argument("conn", nargs="?", metavar="DBNAME|URI|CONNINFO", help="what to connect to")
    c = p.add_argument_group("connection")
    c.add_argument("-h", "--host", help="server host or socket directory")
    c.add_argument("-p", "--port", help="server port")
    c.add_argument("-U", "--username", help="user name")
    c.add_argument("-d", "--dbname", help="database name, URI or conninfo string")
    c.add_argument("-W", "--password", action="store_true", help="prompt for a password")
    c.add_argument(
        "--pooler",
        metavar="URI",
        help="PgBouncer admin console, e.g. postgresql://u@h:6432/pgbouncer",
    )
    c.add_argument(
        "--connect-timeout",
        type=_seconds(0.5),
        default=None,
        metavar="S",
        help=f"give up connecting after S seconds (default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    o = p.add_argument_group("behaviour")
    o.add_argument(
        "--refresh",
        type=_seconds(MIN_REFRESH),
        default=None,
        metavar="S",
        help=f"seconds between polls (default {DEFAULT_REFRESH:g}, minimum {MIN_REFRESH:g})",
    )
    o.add_argument("--read-only", action="store_true", default=None, help="no cancel/terminate")
    o.add_argument("--no-mouse", action="store_true", help="do not capture the mouse")
    o.add_argument("--once", action="store_true", help="print one snapshot and exit")
    o.add_argument(
        "--demo", action="store_true", help="watch a throwaway PostgreSQL under a demo workload"
    )
    o.add_argument(
        "--format",
        choices=("json", "text", "openmetrics"),
        default="text",
        help="output of --once (text)",
    )
    o.add_argument("--record", metavar="FILE", help="also write every snapshot to FILE (gzip)")
    o.add_argument(
        "--replay",
        metavar="FILE|DIR",
        help="watch a recording, or a --record-dir directory, instead of a server",
    )
    o.add_argument(
        "--at",
        metavar="WHEN",
        help="with --replay: start at '2026-12-02 03:12', 03:12 (the latest) or -2h",
    )
    _add_headless_arguments(p)
    pr = p.add_argument_group("profiles")
    pr.add_argument(
        "-P",
        "--profile",
        metavar="NAME",
        action="append",
        dest="profiles",
        help="connect with a saved profile; repeat to watch several servers",
    )
    pr.add_argument(
        "--fleet",
        metavar="GROUP",
        nargs="?",
        const="",
        help="watch every saved profile, or those whose groups list GROUP",
    )
    pr.add_argument("--save-profile", metavar="NAME", help="save the other arguments as NAME")
    pr.add_argument(
        "--save-password", action="store_true", help="with --save-profile: store the password"
    )
    pr.add_argument("--password-command", metavar="CMD", help="a command that prints the password")
    pr.add_argument("--list-profiles", action="store_true", help="list saved profiles")
    pr.add_argument("--delete-profile", metavar="NAME", help="delete a saved profile")
    i = p.add_argument_group("information")
    i.add_argument("--help", "-?", action="help", help="show this help and exit")
    i.add_argument("--version", action="version", version=f"pgtop {__version__}")
    return p


def _add_headless_arguments(p: argparse.ArgumentParser) -> None:
    h = p.add_argument_group("headless (a service: no terminal)")
    h.add_argument(
        "--headless", action="store_true", help="poll with no terminal: record and/or serve metrics"
    )
    h.add_argument("--record-dir", metavar="DIR", help="record one file per server per hour here")
    h.add_argument("--retain", metavar="AGE", help="delete recordings older than AGE (24h, 7d)")
    h.add_argument(
        "--retain-size", metavar="SIZE", help="and the oldest while DIR holds more (e.g. 1GB)"
    )
    h.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve OpenMetrics at http://HOST:PORT/metrics (a bare PORT: loopback)",
    )


def _headless_options(args: argparse.Namespace) -> HeadlessOptions | None:
    """The headless settings, None without --headless; UsageError on bad or stray ones."""
    given = [
        flag
        for flag, value in (
            ("--record-dir", args.record_dir),
            ("--retain", args.retain),
            ("--retain-size", args.retain_size),
            ("--metrics-listen", args.metrics_listen),
        )
        if value is not None
    ]
    if not args.headless:
        if given:
            raise UsageError(f"{given[0]} goes with --headless")
        return None
    from pgtop.headless.options import (  # here: a live start does without (start-up time)
        HeadlessOptions,
        parse_duration,
        parse_listen,
        parse_size,
    )

    for flag, clash in (
        ("--once", args.once),
        ("--record", args.record),
        ("--replay", args.replay),
        ("--demo", args.demo),
        ("-W", args.password),
    ):
        if clash:
            why = " (no terminal to ask on: use PGPASSWORD or .pgpass)" if flag == "-W" else ""
            raise UsageError(f"--headless cannot be combined with {flag}{why}")
    if args.record_dir is None and args.metrics_listen is None:
        raise UsageError("--headless needs --record-dir DIR, --metrics-listen HOST:PORT or both")
    if args.record_dir is None and (args.retain or args.retain_size):
        raise UsageError("--retain and --retain-size go with --record-dir")
    try:
        return HeadlessOptions(
            record_dir=Path(args.record_dir) if args.record_dir else None,
            retain_seconds=parse_duration(args.retain) if args.retain else None,
            retain_bytes=parse_size(args.retain_size) if args.retain_size else None,
            metrics_listen=parse_listen(args.metrics_listen) if args.metrics_listen else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def server_name(target: Target) -> str:
    """What a server is called in recordings and metrics: its profile's name, else
    host:port as given (libpq's defaults apply when connecting, not here)."""
    if target.profile_name:
        return target.profile_name
    p = target.postgres.params
    if "service" in p and not p.get("host"):
        return p["service"]
    host = p.get("host") or os.environ.get("PGHOST") or "local"
    port = p.get("port") or os.environ.get("PGPORT") or "5432"
    return f"{host}:{port}"


def _parse_conninfo(text: str) -> dict[str, str]:
    """A URI or key=value string through libpq's own parser; a bare word is a dbname."""
    if "=" not in text and "://" not in text:
        return {"dbname": text}
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except Exception as exc:
        # libpq's message quotes the bad part, which may be the password or the whole URI.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot parse"
        raise UsageError(f"invalid connection string: {redact(reason, text)}") from None
    _check_port(params.get("port"))
    return params


def _check_pooler(uri: str | None) -> None:
    """A --pooler URI libpq cannot parse is a usage error now, not a message in every poll."""
    problem = pooler_uri_problem(uri) if uri is not None else None
    if problem:
        raise UsageError(problem)


def _check_port(port: str | None) -> None:
    """A port (or a libpq port list) must be numbers a socket can take: anything else
    is a usage error now, not a driver's OverflowError at connect time."""
    if port is None:
        return
    for part in port.split(","):
        if not part.strip().isdigit():
            raise UsageError(f"invalid port {port!r}: a number is expected")
        if not 1 <= int(part) <= 65535:
            raise UsageError(f"invalid port {part.strip()}: ports run from 1 to 65535")


def conn_settings_from_args(args: argparse.Namespace) -> ConnSettings:
    params: dict[str, str] = {}
    if args.conn:
        params.update(_parse_conninfo(args.conn))
    if args.dbname:
        params.update(_parse_conninfo(args.dbname))
    _check_port(args.port)
    return ConnSettings(params).with_overrides(host=args.host, port=args.port, user=args.username)


def _conn_args_given(args: argparse.Namespace) -> bool:
    return any((args.conn, args.dbname, args.host, args.port, args.username))


def build_target(args: argparse.Namespace) -> Target:
    """The Target from a profile (-P, or `default`) with arguments on top, or from arguments."""
    from pgtop import profiles

    name = args.profiles[-1] if args.profiles else None
    # Connection arguments rule the default profile out before its code is imported.
    if (
        name is None
        and not _conn_args_given(args)
        and profiles.use_default_profile(os.environ, conn_args_given=False)
    ):
        name = profiles.DEFAULT_PROFILE if profiles.profiles_path().exists() else None
    saved: dict[str, profiles.Profile] = {}
    if name is not None:
        saved, warnings = profiles.load_profiles()
        for warning in warnings:
            print(f"pgtop: warning: {warning}", file=sys.stderr)
        if name not in saved and args.profiles:
            raise UsageError(f"no profile named {name!r} — see pgtop --list-profiles")
    if name in saved:
        target = profiles.profile_to_target(
            saved[name],
            conn_overrides=conn_settings_from_args(args).params,
            pooler=args.pooler,
            refresh=args.refresh,
            read_only=args.read_only,
            password_command=args.password_command,
        )
    else:
        target = Target(
            postgres=conn_settings_from_args(args),
            pooler=args.pooler,
            refresh=args.refresh if args.refresh is not None else DEFAULT_REFRESH,
            read_only=bool(args.read_only),
            password_command=args.password_command,
        )
    return target.replace(
        connect_timeout=_connect_timeout(args, target), read_only_locked=bool(args.read_only)
    )


# -- the fleet (issue 17): several profiles at once -------------------------------------


def _fleet_members(args: argparse.Namespace) -> tuple[Member, ...]:
    """The servers -P a -P b or --fleet [GROUP] name; () for one server (as before).

    Connection arguments name one server, so they are refused with several; --refresh,
    --read-only, --connect-timeout and --password-command hold for every member."""
    names: list[str] = args.profiles or []
    if args.fleet is None and len(names) < 2:
        return ()
    from pgtop import profiles  # here: one server does without them (start-up time)
    from pgtop.profiles.fleet_fields import choose_fleet

    saved, warnings = profiles.load_profiles()
    for warning in warnings:
        print(f"pgtop: warning: {warning}", file=sys.stderr)
    chosen = choose_fleet(saved, names, args.fleet)
    if len(chosen) < 2 and args.fleet is None:
        return ()
    if _conn_args_given(args) or args.pooler or args.password:
        raise UsageError(
            "connection arguments, --pooler and -W name one server: with several profiles, "
            "set them in each profile"
        )
    members = []
    for profile in chosen:
        target = profiles.profile_to_target(
            profile,
            refresh=args.refresh,
            read_only=args.read_only,
            password_command=args.password_command,
        )
        target = target.replace(
            connect_timeout=_connect_timeout(args, target), read_only_locked=bool(args.read_only)
        )
        members.append(Member(profile.name, target))
    return tuple(members)


def _connect_timeout(args: argparse.Namespace, target: Target) -> float:
    """--connect-timeout, else libpq's connect_timeout or PGCONNECT_TIMEOUT (2 s at least)."""
    if args.connect_timeout is not None:
        return float(args.connect_timeout)
    text = target.postgres.get("connect_timeout") or os.environ.get("PGCONNECT_TIMEOUT")
    try:
        seconds = float(text) if text else 0.0
    except ValueError:
        raise UsageError(f"invalid connect_timeout {text!r}: a number is expected") from None
    return max(2.0, seconds) if seconds > 0 else DEFAULT_CONNECT_TIMEOUT


def _profile_invocation(args: argparse.Namespace) -> Invocation:
    """--list-profiles, --delete-profile or --save-profile: these never connect."""
    from pgtop.profiles import Profile

    if args.list_profiles:
        return Invocation("list-profiles")
    if args.delete_profile:
        return Invocation("delete-profile", profile_name=args.delete_profile)
    profile = Profile(
        name=args.save_profile,
        conn=conn_settings_from_args(args).params,
        pooler=args.pooler,
        refresh=args.refresh,
        read_only=bool(args.read_only),
        password_command=args.password_command,
    )
    return Invocation("save-profile", profile=profile, save_password=args.save_password)


def _relative_at_joined(argv: list[str]) -> list[str]:
    """`--at -2h` as `--at=-2h`: argparse takes a value that starts with a dash for an
    option, and "two hours ago" is the form a DBA types first."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--at":
            value = next(args, None)
            if value is not None and value[:1] == "-" and value[1:2].isdigit():
                out.append(f"--at={value}")
                continue
            out.extend([arg] if value is None else [arg, value])
            continue
        out.append(arg)
    return out


def parse(argv: list[str]) -> Invocation:
    """The Invocation argv asks for. Raises UsageError (or ProfileError) on bad input;
    argparse itself exits 2 with a one-line message on unknown or malformed options."""
    args = build_parser().parse_args(_relative_at_joined(argv))
    mouse, fmt = not args.no_mouse, args.format
    if args.demo:
        from pgtop.demo import DEMO_REFRESH

        demo = Target(refresh=args.refresh or DEMO_REFRESH, read_only=bool(args.read_only))
        record = Path(args.record) if args.record else None
        if args.fleet is not None and record is not None:
            raise UsageError("--record records one server: not with --demo --fleet")
        return Invocation("demo", target=demo, mouse=mouse, record=record,
                          demo_fleet=args.fleet is not None)  # fmt: skip
    headless = _headless_options(args)
    if args.replay:  # connection arguments are ignored: no server is involved
        replay_mode: Mode = "once" if args.once else "replay"
        return Invocation(
            replay_mode,
            mouse=mouse,
            output_format=fmt,
            replay=Path(args.replay),
            replay_at=args.at,
            replay_server=args.profiles[-1]
            if args.profiles
            else None,  # -P NAME picks a server of a directory
        )
    if args.at is not None:
        raise UsageError("--at goes with --replay")
    if args.list_profiles or args.delete_profile or args.save_profile:
        _check_pooler(args.pooler)
        return _profile_invocation(args)
    members = _fleet_members(args)
    if args.once or headless is not None or len(members) > 1:
        # The live screen of one server checks it while Textual imports (modes.run_app):
        # psycopg's import is then off the path to its first screen.
        _check_pooler(args.pooler)
    target = members[0].target if members else build_target(args)
    if headless is not None:  # a fleet records and serves every member
        server = server_name(target)
        return Invocation(
            "headless", target=target, members=members, headless=headless, server=server
        )
    if args.once and args.record:
        raise UsageError("--record records the interactive view, not --once")
    record = Path(args.record) if args.record else None
    server_mode: Mode = "once" if args.once else "live"
    return Invocation(
        server_mode,
        target=target,
        members=members,
        ask_password=args.password,
        mouse=mouse,
        output_format=fmt,
        record=record,
        server=server_name(target),
    )


def run(argv: list[str]) -> int:
    """`pgtop ARGS`: parse, then run; returns the exit code."""
    from pgtop.modes import run_invocation
    from pgtop.profiles import ProfileError

    try:
        invocation = parse(argv)
    except (UsageError, ProfileError) as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_invocation(invocation)
