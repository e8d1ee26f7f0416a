"""The fleet without servers: choosing members on the command line, the profile keys,
the lines' order and filter, the back-off schedule and several pooler processes summed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pgtop.cli import parse, run
from pgtop.collect.errors import CollectError
from pgtop.model.fleet_line import (
    FilterError,
    MemberView,
    fleet_lines,
    parse_fleet_filter,
    sort_lines,
)
from pgtop.model.pooler_records import (
    Pool,
    PoolerClient,
    PoolerServer,
    PoolerSnapshot,
    PoolerStats,
)
from pgtop.model.pooler_sum import sum_poolers
from pgtop.model.server_summary import ServerSummary
from pgtop.monitor.fleet import BAD_PASSWORD, RECONNECTING, UNREACHABLE, retry_delay, status_of
from pgtop.profiles import ProfileError, load_profiles, save_profile
from support.records import replace

FLEET_FILE = """\
[profiles.db1]
host = "db1"
env = "prod"
colour = "red"
groups = ["eu", "billing"]
pooler = "postgresql://pgbouncer@db1:6432/pgbouncer"
poolers = ["postgresql://pgbouncer@db1:6433/pgbouncer"]
read_only = true

[profiles.db2]
host = "db2"
env = "preprod"
groups = ["eu"]

[profiles.db3]
host = "db3"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(FLEET_FILE)
    path.chmod(0o600)
    monkeypatch.setenv("PGTOP_CONFIG", str(path))
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    return path


# -- choosing the fleet --------------------------------------------------------------


def test_repeated_profiles_make_a_fleet_in_the_order_given(config: Path) -> None:
    run_ = parse(["-P", "db3", "-P", "db1", "--once", "--refresh", "1"])
    assert run_.fleet and [m.name for m in run_.members] == ["db3", "db1"]
    db3, db1 = (m.target for m in run_.members)
    assert db1.postgres.get("host") == "db1" and db1.env == "prod" and db1.colour == "red"
    assert db1.pooler_consoles == (
        "postgresql://pgbouncer@db1:6432/pgbouncer",
        "postgresql://pgbouncer@db1:6433/pgbouncer",
    )
    assert (db1.read_only, db3.read_only) == (True, False)  # per server, not for all
    assert db1.refresh == db3.refresh == 1.0  # the command line holds for every member


def test_fleet_alone_is_every_profile_and_a_name_is_its_group(config: Path) -> None:
    assert [m.name for m in parse(["--fleet"]).members] == ["db1", "db2", "db3"]
    assert [m.name for m in parse(["--fleet", "eu"]).members] == ["db1", "db2"]
    assert [m.name for m in parse(["--fleet", "billing", "-P", "db3"]).members] == ["db3", "db1"]


def test_list_profiles_shows_env_groups_and_extra_poolers(config: Path) -> None:
    from pgtop.profiles import format_profile_list

    listing = format_profile_list(load_profiles()[0]).splitlines()
    assert "env=prod, groups=eu,billing, +1 pooler(s)" in listing[1]
    assert "env=preprod, groups=eu" in listing[2]


def test_a_single_profile_is_a_single_server_as_before(config: Path) -> None:
    one = parse(["-P", "db2"])
    assert not one.fleet and one.members == ()
    assert one.target.postgres.get("host") == "db2" and one.target.env == "preprod"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-P", "db1", "-P", "nope"], "no profile named 'nope'"),
        (["--fleet", "asia"], "no profile is in group 'asia' (groups: billing, eu)"),
        (["-P", "db1", "-P", "db2", "-h", "elsewhere"], "name one server"),
        (["-P", "db1", "-P", "db2"], "not a terminal; use --once"),  # the fleet screen needs one
    ],
)
def test_unknown_profile_or_group_is_one_line_and_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err


# -- the profile keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('colour = "reddish"', "unknown colour 'reddish'"),
        ('env = "two words"', "'env' must be one word"),
        ('groups = "eu"', "'groups' must be a list of strings"),
        ('poolers = ["::nonsense"]', "not a libpq URI"),
    ],
)
def test_bad_fleet_keys_are_refused_in_one_line(config: Path, line: str, message: str) -> None:
    config.write_text(f'[profiles.x]\nhost = "h"\n{line}\n')
    with pytest.raises(ProfileError, match=message) as err:
        load_profiles()
    assert "\n" not in str(err.value)


def test_colours_rich_knows_are_kept_and_saving_keeps_the_fleet_keys(config: Path) -> None:
    config.write_text('[profiles.x]\nhost = "h"\ncolour = "#ff8800"\nenv = "dev"\n')
    loaded, warnings = load_profiles()
    assert warnings == [] and loaded["x"].colour == "#ff8800"
    save_profile(replace(loaded["x"], conn={"host": "h2"}))  # as --save-profile
    again, _ = load_profiles()
    assert (again["x"].conn, again["x"].env, again["x"].colour) == ({"host": "h2"}, "dev",
                                                                     "#ff8800")  # fmt: skip


# -- the lines -----------------------------------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def summary(used: int = 10, slots: int = 100, waiting: int = 0, xact: float | None = 1.0):  # type: ignore[no-untyped-def]
    return ServerSummary(version="18.1", at=NOW, max_connections=slots + 3,
                         superuser_reserved=3, reserved=None, client_connections=used,
                         active=1, idle_in_transaction=0, waiting_on_lock=waiting,
                         oldest_xact_s=xact, transactions=0)  # fmt: skip


def view(name: str, status: str = "live", env: str | None = None, **kw) -> MemberView:  # type: ignore[no-untyped-def]
    pooler = kw.pop("pooler", None)
    return MemberView(name, env, None, status, "why" if status != "live" else "", NOW,
                      summary(**kw) if status == "live" else None, 5.0, pooler)  # fmt: skip


def pooler(waiting: int, maxwait: float) -> PoolerSnapshot:
    pool = Pool("shop", "app", 1, waiting, 1, 0, 0, 0, 0, maxwait, "session")
    return PoolerSnapshot("1.24", "h:6432", (pool,), (), (), {}, 1, 1, NOW)


def test_worst_first_down_then_full_then_waiting_then_calm() -> None:
    lines = fleet_lines([
        view("calm"),
        view("full", used=97),
        view("down", status=UNREACHABLE),
        view("queue", pooler=pooler(4, 12.0)),
        view("locks", waiting=2),
    ])  # fmt: skip
    assert [line.name for line in lines] == ["down", "full", "locks", "queue", "calm"]
    full = lines[1]
    assert (full.used, full.slots, round(full.used_pct or 0), full.level) == (97, 100, 97, "crit")
    queue = next(line for line in lines if line.name == "queue")
    assert (queue.pool_waiting, queue.pool_longest_wait_s) == (4, 12.0)
    assert lines[0].reason == "why" and lines[0].used is None


def test_sort_by_a_figure_is_largest_first_and_reverse_turns_it() -> None:
    lines = fleet_lines([view("a", used=5), view("b", used=50), view("c", status=BAD_PASSWORD)])
    assert [line.name for line in sort_lines(lines, "used")] == ["b", "a", "c"]
    assert [line.name for line in sort_lines(lines, "name", reverse=True)] == ["c", "b", "a"]
    with pytest.raises(ValueError, match="unknown sort key"):
        sort_lines(lines, "colour")


def test_filter_env_status_and_figures_as_the_sessions_filter_reads() -> None:
    lines = fleet_lines([
        view("db1", env="prod", used=90),
        view("db2", env="preprod"),
        view("db3", env="prod", status=UNREACHABLE),
        view("db4", status=RECONNECTING, env="dev"),
    ])  # fmt: skip

    def names(text: str) -> list[str]:
        return sorted(line.name for line in parse_fleet_filter(text).apply(lines))

    assert names("env:prod") == ["db1", "db3"]  # exact: not preprod
    assert names("status:down") == ["db3", "db4"]
    assert names("env:prod -status:down") == ["db1"]
    assert names("used>80") == ["db1"]
    assert names("xact<5m") == ["db1", "db2"]
    assert names("db2") == ["db2"]
    with pytest.raises(FilterError, match="unknown filter field 'colour'"):
        parse_fleet_filter("colour:red")
    with pytest.raises(FilterError, match="cannot compare 'env'"):
        parse_fleet_filter("env>3")


# -- back-off and status -------------------------------------------------------------


def test_retry_delay_doubles_from_one_refresh_up_to_a_minute() -> None:
    assert [retry_delay(n, 2.0) for n in range(1, 9)] == [2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(1000, 0.5) == 60


def test_status_says_why() -> None:
    refused = CollectError("x: password authentication failed", "auth")
    assert status_of(refused, True) == BAD_PASSWORD
    assert status_of(CollectError("refused", "connect"), True) == UNREACHABLE
    assert status_of(CollectError("no answer in 5 s", "timeout"), True) == RECONNECTING
    assert status_of(CollectError("no answer in 5 s", "timeout"), False) == UNREACHABLE


# -- several PgBouncer processes -----------------------------------------------------


def test_processes_are_added_up_and_their_pointers_kept_apart() -> None:
    def process(port: int, waiting: int, maxwait: float, xacts: int) -> PoolerSnapshot:
        pool = Pool("shop", "app", 2, waiting, 2, 1, 0, 0, 0, maxwait, "transaction")
        stats = PoolerStats("shop", xacts, xacts, 0, 0, 0, 0, 0)
        client = PoolerClient("shop", "app", "active", "10.0.0.1", 5000, None, None, 0.0,
                              "0x1", "0x9")  # fmt: skip
        server = PoolerServer("shop", "app", "active", "127.0.0.1", 5432, "127.0.0.1", 40000,
                              None, None, 123, "0x9", "0x1")  # fmt: skip
        at = NOW + timedelta(seconds=port - 6432)
        return PoolerSnapshot("1.24", f"h:{port}", (pool,), (stats,), (), {}, 3, 3, at,
                              (client,), (server,))  # fmt: skip

    both = sum_poolers([process(6432, 1, 3.0, 10), process(6433, 4, 7.5, 5)])
    (pool,) = both.pools
    assert (pool.cl_active, pool.cl_waiting, pool.sv_active, pool.maxwait) == (4, 5, 4, 7.5)
    assert both.stats[0].total_xact_count == 15
    assert (both.clients, both.servers, both.address) == (6, 6, "h:6432, h:6433")
    # Both processes use pointer 0x1/0x9: tagged, each client still finds its own server.
    assert [c.link for c in both.client_list] == ["0:0x9", "1:0x9"]
    assert [s.ptr for s in both.server_list] == ["0:0x9", "1:0x9"]


def test_once_text_shows_an_escape_in_a_profile_name_as_a_stand_in() -> None:
    """A profile name reaches the terminal in --once's heading: ESC must not."""
    from pgtop.once_fleet import ServerResult, render_fleet
    from pgtop.target import Target

    down = ServerResult("e\x1b[31mvil", Target(), status=UNREACHABLE, error="refused\x1b[2J")
    text = render_fleet([down], "text")
    assert "\x1b" not in text
    assert "== e␛[31mvil: unreachable ==" in text
