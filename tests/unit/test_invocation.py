"""The command line as data: `pgtop.cli.parse` turns argv into the Invocation the runners
take, without connecting, prompting or running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgtop.cli import UsageError, parse


@pytest.fixture(autouse=True)
def no_profiles_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGTOP_CONFIG", str(tmp_path / "profiles.toml"))


def test_server_arguments_make_a_live_run_on_that_target() -> None:
    run = parse(["-h", "db1", "-p", "5433", "-U", "monitor", "--refresh", "1", "--no-mouse"])
    assert run.mode == "live" and run.full_screen and not run.mouse
    assert run.target.postgres.params == {"host": "db1", "port": "5433", "user": "monitor"}
    assert run.target.refresh == 1.0


def test_minus_w_is_asked_by_the_runner_not_stored() -> None:
    run = parse(["-W", "--once", "--format", "json", "-h", "db1"])
    assert (run.mode, run.ask_password, run.output_format) == ("once", True, "json")
    assert "password" not in run.target.postgres.params


def test_replay_with_once_prints_a_recording_and_ignores_server_arguments() -> None:
    run = parse(["--replay", "hour.pgtop", "--once", "-h", "db1", "--pooler", "::bad"])
    assert (run.mode, run.replay, run.full_screen) == ("once", Path("hour.pgtop"), False)


def test_record_with_once_is_a_usage_error_before_anything_runs() -> None:
    with pytest.raises(UsageError, match="--record records the interactive view"):
        parse(["--once", "--record", "out.pgtop", "-h", "db1"])


def test_profile_commands_never_build_a_target() -> None:
    saved = parse(["--save-profile", "prod", "-h", "db1", "--read-only"])
    assert saved.mode == "save-profile" and saved.profile is not None
    assert (saved.profile.name, saved.profile.conn, saved.profile.read_only) == (
        "prod",
        {"host": "db1"},
        True,
    )
    assert parse(["--delete-profile", "prod"]).profile_name == "prod"
    assert parse(["--list-profiles"]).mode == "list-profiles"


@pytest.mark.parametrize(
    "argv",
    [["-p", "99999"], ["-p", "0"], ["postgresql://u@h:70000/db"], ["host=h port=5432,99999"]],
)
def test_a_port_out_of_range_is_a_usage_error_naming_it(argv: list[str]) -> None:
    with pytest.raises(UsageError, match="ports run from 1 to 65535"):
        parse([*argv, "--once"])


def test_at_takes_a_time_ago_written_with_a_dash(tmp_path: Path) -> None:
    run = parse(["--replay", str(tmp_path), "--at", "-2h", "--once"])
    assert run.replay_at == "-2h"
    assert parse(["--replay", str(tmp_path), "--at", "03:12"]).replay_at == "03:12"
