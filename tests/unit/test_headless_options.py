"""The headless recorder's and --replay DIR's command line: --retain, --retain-size,
--metrics-listen, --at, and the combinations that make no sense (one-line usage errors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pgtop.cli import UsageError, parse
from pgtop.collect.record import hour_file_name, parse_hour_file, server_dir_name
from pgtop.collect.replay import parse_at
from pgtop.headless.options import parse_duration, parse_listen, parse_size


@pytest.fixture(autouse=True)
def no_profiles_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGTOP_CONFIG", str(tmp_path / "profiles.toml"))
    for name in ("PGHOST", "PGPORT", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)


def test_durations_sizes_and_addresses_as_written() -> None:
    assert parse_duration("24h") == 86400 and parse_duration("7d") == 7 * 86400
    assert parse_duration("90m") == 5400 and parse_duration("36") == 36 * 3600
    assert parse_size("1GB") == 10**9 and parse_size("500mb") == 500 * 10**6
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_listen("9187") == ("127.0.0.1", 9187)  # loopback unless told
    assert parse_listen("0.0.0.0:9187") == ("0.0.0.0", 9187)
    assert parse_listen("[::1]:9187") == ("::1", 9187)
    for bad, parser in (("forever", parse_duration), ("0h", parse_duration),
                        ("lots", parse_size), ("host:http", parse_listen),
                        ("h:70000", parse_listen)):  # fmt: skip
        with pytest.raises(ValueError):
            parser(bad)


def test_headless_run_carries_its_options_and_a_server_name() -> None:
    headless = ["--headless", "--record-dir", "/var/lib/pgtop", "--retain", "7d"]
    run = parse([*headless, "--retain-size", "1GB", "--metrics-listen", "9187", "-h", "db1"])
    assert run.mode == "headless" and not run.full_screen
    assert run.headless is not None
    assert run.headless.record_dir == Path("/var/lib/pgtop")
    assert (run.headless.retain_seconds, run.headless.retain_bytes) == (7 * 86400, 10**9)
    assert run.headless.metrics_listen == ("127.0.0.1", 9187)
    assert run.server == "db1:5432"  # its name in recordings and metrics
    metrics_only = parse(["--headless", "--metrics-listen", "0.0.0.0:9187", "-h", "db1"])
    assert metrics_only.headless is not None and metrics_only.headless.record_dir is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--headless", "-h", "db1"], "--headless needs --record-dir"),
        (["--record-dir", "d", "-h", "db1"], "--record-dir goes with --headless"),
        (["--metrics-listen", "9187"], "--metrics-listen goes with --headless"),
        (["--headless", "--record-dir", "d", "-W"], "no terminal to ask on"),
        (["--headless", "--record-dir", "d", "--once"], "cannot be combined with --once"),
        (["--headless", "--metrics-listen", "9", "--retain", "1d"], "go with --record-dir"),
        (["--headless", "--record-dir", "d", "--retain", "soon"], "not a duration: 'soon'"),
        (["--at", "03:12", "-h", "db1"], "--at goes with --replay"),
    ],
)
def test_nonsense_combinations_are_one_line_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(argv)


def test_replay_of_a_directory_takes_at_and_a_server_name() -> None:
    run = parse(["--replay", "rec", "--at", "03:12", "-P", "db2"])
    assert (run.mode, run.replay, run.replay_at, run.replay_server) == (
        "replay", Path("rec"), "03:12", "db2"
    )  # fmt: skip


def test_at_reads_a_date_a_time_of_day_or_an_offset() -> None:
    now = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    assert parse_at("-2h", now) == now - timedelta(hours=2)
    assert parse_at("-30m", now) == now - timedelta(minutes=30)
    assert parse_at("2026-12-02T03:12:00+00:00", now) == datetime(2026, 12, 2, 3, 12, tzinfo=UTC)
    local = parse_at("2026-12-02 03:12", now)
    assert local.tzinfo is not None and (local.hour, local.minute) == (3, 12)
    # A time of day is its latest occurrence, never in the future.
    clock = parse_at("03:12", now)
    assert clock <= now and now - clock < timedelta(days=1)
    assert (clock.astimezone().hour, clock.astimezone().minute) == (3, 12)
    for bad in ("25:00", "yesterday", "+2h"):
        with pytest.raises(ValueError, match="--at"):
            parse_at(bad, now)


def test_hour_file_names_sort_in_time_and_never_climb_out() -> None:
    hour = datetime(2026, 12, 2, 3, 40, tzinfo=UTC)
    assert hour_file_name(hour) == "2026-12-02T03Z.pgtop.gz"
    assert hour_file_name(hour, 2) == "2026-12-02T03Z.2.pgtop.gz"
    parsed = [parse_hour_file(Path(n)) for n in ("2026-12-02T03Z.2.pgtop.gz",
              "2026-12-02T04Z.pgtop.gz", "2026-12-02T03Z.pgtop.gz")]  # fmt: skip
    assert all(parsed)
    assert [p.path.name for p in sorted(parsed)] == [  # type: ignore[type-var, union-attr]
        "2026-12-02T03Z.pgtop.gz", "2026-12-02T03Z.2.pgtop.gz", "2026-12-02T04Z.pgtop.gz"
    ]  # fmt: skip
    assert parse_hour_file(Path("notes.txt")) is None
    assert server_dir_name("../../etc") == "etc" and server_dir_name("db1:5432") == "db1_5432"
    assert server_dir_name("/tmp:5432") == "tmp_5432"
