"""libpq keywords to asyncpg, service files, and passwords kept out of error text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from pgtop.collect.conninfo import ConnInfoError, asyncpg_args
from pgtop.collect.host import is_local_backend
from pgtop.collect.pg_service import ServiceError, expand_service
from pgtop.target import redact


def query_of(dsn: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(dsn).query).items()}


def test_tls_files_host_lists_and_target_attrs_reach_asyncpg() -> None:
    params = {
        "host": "db1,db2",
        "port": "5432,5433",
        "sslmode": "verify-ca",
        "sslrootcert": "/etc/ca.pem",
        "sslcert": "/c.pem",
        "sslkey": "/k.pem",
        "sslcrl": "/crl.pem",
        "sslpassword": "keypw",
        "target_session_attrs": "read-write",
        "password": "s3cret",
    }
    args = asyncpg_args(params, {})
    query = query_of(args.dsn)
    assert {k: query[k] for k in query} == {k: v for k, v in params.items() if k != "password"}
    assert "s3cret" not in args.dsn  # handed over separately, so no error can quote it
    assert args.password == "s3cret"


@pytest.mark.parametrize(
    "params",
    [
        {"gssencmode": "require"},
        {"channel_binding": "require"},
        {"requirepeer": "postgres"},
        {"require_auth": "scram-sha-256"},
        {"sslcrldir": "/crl"},
        {"sslcertmode": "require"},
        {"replication": "database"},
        {"host": "db1", "hostaddr": "10.0.0.1"},
        {"options": "-X"},
    ],
    ids=lambda p: ",".join(p),
)
def test_checks_asyncpg_cannot_make_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ConnInfoError) as caught:
        asyncpg_args(params, {})
    assert "\n" not in str(caught.value)


def test_the_same_checks_from_variables_are_refused() -> None:
    with pytest.raises(ConnInfoError, match="channel_binding"):
        asyncpg_args({}, {"PGCHANNELBINDING": "require"})


def test_options_become_startup_settings_and_harmless_keywords_pass() -> None:
    args = asyncpg_args(
        {
            "options": "-c search_path=public --work-mem=4MB",
            "keepalives": "1",
            "application_name": "x",
            "gssencmode": "prefer",
            "requiressl": "1",
            "hostaddr": "127.0.0.1",
        },
        {},
    )
    assert args.server_settings == {"search_path": "public", "work_mem": "4MB"}
    assert query_of(args.dsn) == {"sslmode": "require", "host": "127.0.0.1"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_service_from_user_file_fills_what_is_not_given(tmp_path: Path) -> None:
    home_file = write(
        tmp_path / "pg_service.conf",
        "# comment\n[other]\nhost=wrong\n[prod]\nhost = db1\nport=5433\ndbname=shop\n",
    )
    env = {"PGSERVICEFILE": str(home_file), "PGSYSCONFDIR": str(tmp_path / "none")}
    assert expand_service({"service": "prod", "dbname": "postgres"}, env) == {
        "host": "db1",
        "port": "5433",
        "dbname": "postgres",
    }
    assert expand_service({}, {**env, "PGSERVICE": "prod"})["host"] == "db1"


def test_service_falls_back_to_the_system_file(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "pg_service.conf", "[prod]\nhost=sys\n")
    write(tmp_path / "user.conf", "[dev]\nhost=dev\n")
    env = {"PGSERVICEFILE": str(tmp_path / "user.conf"), "PGSYSCONFDIR": str(tmp_path / "etc")}
    assert expand_service({"service": "prod"}, env) == {"host": "sys"}
    with pytest.raises(ServiceError, match='definition of service "nope" not found'):
        expand_service({"service": "nope"}, env)


def test_service_file_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "s.conf", "[prod]\nhost=db1\njust words\n")
    with pytest.raises(ServiceError, match="line 3"):
        expand_service({"service": "prod"}, {"PGSERVICEFILE": str(bad)})


@pytest.mark.parametrize(
    "conninfo",
    [
        "postgresql://u:se%zzcret@h/db",
        "postgresql://u:secret@[::1/db",
        "postgresql://u@h/db?password=secret&x",
        "host=h password='secret' x",
        "host=h password=secret x",
    ],
)
def test_redact_masks_the_password_as_libpq_quotes_it(conninfo: str) -> None:
    masked = redact(f'invalid: "{conninfo}"', conninfo)
    assert "secret" not in masked and "***" in masked
    if "%zz" in conninfo:  # libpq quotes just the bad token
        assert redact('invalid percent-encoded token: "se%zzcret"', conninfo).endswith('"***"')


def test_a_poolers_made_up_pid_is_never_a_local_process() -> None:
    now = datetime.now(UTC)
    assert is_local_backend(-1970015990, now) is False
    assert is_local_backend(0, now) is False
