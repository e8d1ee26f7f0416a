"""Profiles file: format, style preservation, safety of passwords, password_command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pgtop.profiles import (
    Profile,
    ProfileError,
    apply_password_command,
    delete_profile,
    format_profile_list,
    load_profiles,
    profile_to_target,
    profiles_path,
    run_password_command,
    save_profile,
    strip_password,
    use_default_profile,
)
from pgtop.target import DEFAULT_REFRESH, Target

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and shell")

HAND_EDITED = """\
# My servers. Keep this comment.
[profiles.prod]
host = "db1"  # the primary
port = 5432
nickname = "red"  # unknown to pgtop, must survive

# Staging, rebuilt nightly.
[profiles.staging]
uri = "postgresql://monitor@staging/postgres"
read_only = true

[ui]
theme = "dark"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "pgtop" / "profiles.toml"
    monkeypatch.setenv("PGTOP_CONFIG", str(path))
    return path


def write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def test_path_comes_from_env(config: Path) -> None:
    assert profiles_path() == config


def test_missing_file_is_empty(config: Path) -> None:
    assert load_profiles() == ({}, [])


def test_round_trip(config: Path) -> None:
    profile = Profile(
        name="prod",
        conn={"host": "db1", "port": "5432", "user": "monitor", "dbname": "postgres"},
        pooler="postgresql://pgbouncer@db1:6432/pgbouncer",
        refresh=5.0,
        read_only=True,
        password_command="pass show pg/prod",
    )
    assert save_profile(profile) == []
    loaded, warnings = load_profiles()
    assert warnings == []
    assert loaded == {"prod": profile}
    text = config.read_text()
    assert "[profiles.prod]" in text
    assert "port = 5432\n" in text  # a single port is written as an integer


def test_comments_order_and_unknown_keys_survive_save(config: Path) -> None:
    write(config, HAND_EDITED)
    save_profile(Profile(name="dev", conn={"host": "localhost"}))
    text = config.read_text()
    assert text.startswith(HAND_EDITED.split("[ui]")[0])  # everything before [ui] untouched
    assert "[profiles.dev]" in text and 'theme = "dark"' in text
    loaded, warnings = load_profiles()
    assert list(loaded) == ["prod", "staging", "dev"]
    assert warnings == [f"{config}: profile 'prod': unknown key 'nickname' ignored"]


def test_replacing_a_profile_keeps_its_comments_and_unknown_keys(config: Path) -> None:
    write(config, HAND_EDITED)
    save_profile(Profile(name="prod", conn={"host": "db9"}, refresh=1.0))
    text = config.read_text()
    assert 'host = "db9"  # the primary\n' in text
    # The new key goes with the profile's keys, not below the next profile's comment.
    assert text.index("refresh = 1.0") < text.index("# Staging, rebuilt nightly.")
    assert 'nickname = "red"  # unknown to pgtop, must survive' in text
    assert "# My servers. Keep this comment." in text
    assert "port" not in text.split("[profiles.staging]")[0]  # replaced, not merged
    loaded, _ = load_profiles()
    assert loaded["prod"] == Profile(name="prod", conn={"host": "db9"}, refresh=1.0)
    assert text.index("[profiles.prod]") < text.index("[profiles.staging]")


def test_comments_survive_delete(config: Path) -> None:
    write(config, HAND_EDITED)
    assert delete_profile("prod") is True
    text = config.read_text()
    assert "# My servers. Keep this comment." in text
    assert "# Staging, rebuilt nightly." in text
    assert "nickname" not in text
    assert 'theme = "dark"' in text
    assert list(load_profiles()[0]) == ["staging"]
    assert delete_profile("prod") is False


def test_delete_keeps_comments_about_what_follows(config: Path) -> None:
    write(
        config,
        '[profiles.a]\nhost = "1"\n# about a\n\n# about ui\n[ui]\nx = 1\n\n'
        '[profiles.b]\nhost = "2"\n\n# end of file\n',
    )
    delete_profile("a")
    assert (
        config.read_text()
        == '# about ui\n[ui]\nx = 1\n\n[profiles.b]\nhost = "2"\n\n# end of file\n'
    )
    delete_profile("b")
    assert config.read_text() == "# about ui\n[ui]\nx = 1\n\n\n# end of file\n"


def test_inline_table_profiles(config: Path) -> None:
    write(config, '[profiles]\nx = {host = "1"}\ny = {host = "2", refresh = 3}\n')
    assert load_profiles()[0]["y"] == Profile(name="y", conn={"host": "2"}, refresh=3.0)
    save_profile(Profile(name="x", conn={"host": "9"}))
    delete_profile("y")
    assert config.read_text() == '[profiles]\nx = {host = "9"}\n'


def test_delete_without_file(config: Path) -> None:
    assert delete_profile("nope") is False
    assert not config.exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[profiles.prod]\nhost = "db1"\nport = 54 32\n', ":3:"),
        ('[profiles.prod]\nhost = "db1\n', ":2:"),
        ("[profiles.prod]\npassword = hunter2\n", ":2:"),
    ],
)
def test_corrupt_file_is_reported_and_never_overwritten(
    config: Path, text: str, where: str
) -> None:
    write(config, text)
    before = config.read_bytes()
    with pytest.raises(ProfileError) as load_error:
        load_profiles()
    message = str(load_error.value)
    assert message.startswith(f"{config}{where}")
    assert "\n" not in message and "hunter2" not in message
    with pytest.raises(ProfileError):
        save_profile(Profile(name="dev", conn={"host": "localhost"}))
    with pytest.raises(ProfileError):
        delete_profile("prod")
    assert config.read_bytes() == before


def test_column_is_one_based(config: Path) -> None:
    write(config, "[profiles.prod]\nhost = @\n")
    with pytest.raises(ProfileError, match=r"profiles\.toml:2:8: "):
        load_profiles()


def test_non_utf8_file_is_reported(config: Path) -> None:
    write(config, "")
    config.write_bytes(b'[profiles.a]\nhost = "\xff"\n')
    with pytest.raises(ProfileError, match=r":2:9: profiles file is not valid UTF-8"):
        load_profiles()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('refresh = "fast"', "refresh"),
        ("read_only = 1", "read_only"),
        ("host = 5", "host"),
        ("port = 70000", "port"),
        ("refresh = 0.1", "refresh"),
        ('uri = "nonsense://"', "uri"),
    ],
)
def test_wrong_types_name_profile_and_key(config: Path, body: str, key: str) -> None:
    write(config, f"[profiles.prod]\n{body}\n")
    with pytest.raises(ProfileError) as error:
        load_profiles()
    assert f"profile 'prod': '{key}'" in str(error.value)


def test_wrong_type_message_does_not_echo_value(config: Path) -> None:
    write(config, '[profiles.prod]\nread_only = "s3cret"\n')
    with pytest.raises(ProfileError) as error:
        load_profiles()
    assert "s3cret" not in str(error.value)


@posix_only
def test_written_file_is_private(config: Path) -> None:
    save_profile(Profile(name="prod", conn={"host": "db1"}))
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.parent.parent.stat().st_mode) == 0o700
    leftovers = [p.name for p in config.parent.iterdir() if p.name != config.name]
    assert leftovers == []


@posix_only
def test_loose_permissions_warn_and_save_tightens(config: Path) -> None:
    write(config, HAND_EDITED, mode=0o644)
    _, warnings = load_profiles()
    assert any("mode 0644" in w and "chmod 600" in w for w in warnings)
    save_warnings = save_profile(Profile(name="dev"))
    assert any("0600" in w for w in save_warnings)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


@posix_only
def test_save_writes_through_symlink(config: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "profiles.toml"
    write(real, HAND_EDITED)
    config.parent.mkdir(parents=True)
    config.symlink_to(real)
    save_profile(Profile(name="dev"))
    assert config.is_symlink()
    assert "[profiles.dev]" in real.read_text()


def test_password_not_written_unless_allowed(config: Path) -> None:
    profile = Profile(name="prod", conn={"host": "db1", "password": "hunter2"})
    assert profile.password == "hunter2" and "password" not in profile.conn
    warnings = save_profile(profile)
    assert "hunter2" not in config.read_text()
    assert any("password not saved" in w for w in warnings)
    assert all("hunter2" not in w for w in warnings)
    assert load_profiles()[0]["prod"].password is None

    save_profile(profile, allow_password=True)
    assert 'password = "hunter2"' in config.read_text()
    assert load_profiles()[0]["prod"].password == "hunter2"


def test_password_stripped_from_uris(config: Path) -> None:
    profile = Profile(
        name="prod",
        uri="postgresql://monitor:hunter2@db1:5432/postgres?sslmode=require",
        pooler="postgresql://pgbouncer:pb-secret@db1:6432/pgbouncer",
    )
    save_profile(profile)
    text = config.read_text()
    assert "hunter2" not in text and "pb-secret" not in text
    loaded = load_profiles()[0]["prod"]
    assert loaded.conn_params() == {
        "user": "monitor",
        "dbname": "postgres",
        "host": "db1",
        "port": "5432",
        "sslmode": "require",
    }
    assert loaded.describe() == "monitor@db1:5432/postgres"


def test_uri_without_password_is_kept_verbatim(config: Path) -> None:
    uri = "postgresql://monitor@db1/postgres"
    assert strip_password(uri) == (uri, False)
    save_profile(Profile(name="prod", uri=uri))
    assert f'uri = "{uri}"' in config.read_text()


def test_password_never_in_repr_or_list() -> None:
    profile = Profile(
        name="prod",
        conn={"host": "db1", "user": "monitor"},
        uri="postgresql://u:hunter2@h/db",
        pooler="host=db1 port=6432 password=pb-secret user=pgbouncer",
        password="hunter3",
        read_only=True,
        refresh=5,
        password_command="pass show x",
    )
    for text in (repr(profile), format_profile_list({"prod": profile})):
        assert "hunter2" not in text and "hunter3" not in text and "pb-secret" not in text
    listing = format_profile_list({"prod": profile, "dev": Profile(name="dev")})
    lines = listing.splitlines()
    assert lines[0].split() == ["NAME", "TARGET", "FLAGS"]
    assert lines[1].startswith("prod  monitor@db1/db  ")
    for flag in ("read-only", "pooler=pgbouncer@db1:6432", "refresh=5s", "password_command"):
        assert flag in lines[1]
    assert "saved-password" in lines[1]
    assert lines[2].split() == ["dev", "(libpq", "defaults)"]


def test_empty_list_names_the_file(tmp_path: Path) -> None:
    assert format_profile_list({}, tmp_path / "p.toml") == f"no profiles in {tmp_path / 'p.toml'}"


def test_invalid_name_refused(config: Path) -> None:
    with pytest.raises(ProfileError, match="invalid profile name"):
        save_profile(Profile(name="bad name"))
    assert not config.exists()


def test_profile_to_target_applies_overrides() -> None:
    profile = Profile(
        name="prod",
        conn={"host": "db1", "port": "5432", "user": "monitor"},
        pooler="postgresql://pgbouncer@db1:6432/pgbouncer",
        refresh=5.0,
        password_command="cmd",
    )
    plain = profile_to_target(profile)
    assert plain.postgres.params == {"host": "db1", "port": "5432", "user": "monitor"}
    assert (plain.refresh, plain.read_only, plain.profile_name) == (5.0, False, "prod")
    assert plain.pooler == profile.pooler and plain.password_command == "cmd"

    target = profile_to_target(
        profile,
        conn_overrides={"host": "db2", "user": None, "dbname": "app"},
        pooler="postgresql://pgbouncer@db2:6432/pgbouncer",
        refresh=1.0,
        read_only=True,
    )
    assert target.postgres.params == {
        "host": "db2",
        "port": "5432",
        "user": "monitor",
        "dbname": "app",
    }
    assert target.pooler == "postgresql://pgbouncer@db2:6432/pgbouncer"
    assert (target.refresh, target.read_only) == (1.0, True)


def test_profile_to_target_uri_and_keywords() -> None:
    profile = Profile(name="s", uri="postgresql://monitor@staging/postgres", conn={"port": "6000"})
    target = profile_to_target(profile)
    assert target.postgres.params == {
        "user": "monitor",
        "dbname": "postgres",
        "host": "staging",
        "port": "6000",
    }
    assert target.refresh == DEFAULT_REFRESH


def test_default_profile_rule() -> None:
    assert use_default_profile({}, conn_args_given=False)
    assert use_default_profile({"PGTOP_CONFIG": "/x", "PGPASSWORD": "p"}, conn_args_given=False)
    assert use_default_profile({"PGHOST": ""}, conn_args_given=False)
    assert not use_default_profile({"PGHOST": "db1"}, conn_args_given=False)
    assert not use_default_profile({}, conn_args_given=True)


@posix_only
def test_password_command_success() -> None:
    assert run_password_command("printf 'hunter2\\n'") == "hunter2"
    assert run_password_command("printf ' spaced '") == " spaced "


@posix_only
def test_password_command_failure_is_one_line_without_output() -> None:
    with pytest.raises(ProfileError) as error:
        run_password_command("echo hunter2; echo oops >&2; exit 1")
    message = str(error.value)
    assert message == "password_command exited with status 1"
    assert "Traceback" not in message and "oops" not in message


@posix_only
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("true", "printed nothing"),
        ("printf 'hunter2\\nurl: x\\n'", "more than one line"),
        ("exit 127", "command not found"),
        ("kill -9 $$", "killed by signal 9"),
    ],
)
def test_password_command_bad_output(command: str, expected: str) -> None:
    with pytest.raises(ProfileError, match=expected) as error:
        run_password_command(command)
    assert "hunter2" not in str(error.value)


@posix_only
def test_password_command_timeout() -> None:
    with pytest.raises(ProfileError, match=r"did not finish within 0\.2 s"):
        run_password_command("sleep 5", timeout=0.2)


@posix_only
def test_apply_password_command() -> None:
    target = Target(password_command="echo hunter2", profile_name="prod")
    assert apply_password_command(target).postgres.get("password") == "hunter2"
    given = Target().replace(password_command="exit 3")
    given = given.replace(postgres=given.postgres.with_overrides(password="x"))
    assert apply_password_command(given) is given  # an explicit password wins, no run
    with pytest.raises(ProfileError, match=r"^profile 'prod': password_command exited"):
        apply_password_command(Target(password_command="exit 3", profile_name="prod"))
