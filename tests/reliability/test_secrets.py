"""Credentials in warehouse and state URLs never reach stdout, stderr, decisions, the decision log or the logs.

Passwords hold '@', '/', ':', '%' and non-ASCII characters, written both percent-encoded (correct) and raw (the
mistake that once made SQLAlchemy read part of the password as the host). No piece of three or more characters
of a password may appear anywhere the gate writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import (
    Branch,
    DecisionLog,
    RunKey,
    StateStore,
    Status,
    Warehouse,
    WarehouseError,
)
from airflow_retrain_gate.core.secrets import SECRETS, redact_url, scrub

from .cli_runs import run_diagnose, write_policy
from .gates import diagnose, messages, train_policy

PASSWORDS = {
    "at": "Qx@7Kv9Zp",
    "slash": "Wd/3Hq8Jx",
    "colon": "Rb:5Ty2Lm",
    "percent": "Np%4Gs%zz1",
    "unicode": "Fé€ßø7Kq",
    "everything": "Zq@4/Lp:9%Vx-ñ@w",
}
REFUSED = "percent-encode them ('@' as %40, '/' as %2F)"


def fragments(password: str) -> set[str]:
    """Every piece of `password` three or more characters long, as typed and percent-encoded."""
    pieces = {password[i:j] for i in range(len(password)) for j in range(i + 3, len(password) + 1)}
    return pieces | {quote(piece, safe="") for piece in pieces}


def leaked(password: str, *texts: str) -> list[str]:
    """The pieces of `password` found in any of `texts` (empty when nothing leaked)."""
    joined = "\n".join(texts)
    return sorted(piece for piece in fragments(password) if piece in joined)


def url_with(password: str, *, encoded: bool, host: str = "127.0.0.1:1", database: str = "warehouse") -> str:
    """A PostgreSQL URL for user `gate` with `password`, percent-encoded or as typed."""
    secret = quote(password, safe="") if encoded else password
    return f"postgresql+psycopg2://gate:{secret}@{host}/{database}"


@pytest.mark.parametrize("name", ["at", "everything"])
@pytest.mark.parametrize("role", ["warehouse", "state"])
def test_an_unescaped_at_sign_is_refused_before_connecting(name: str, role: str) -> None:
    password = PASSWORDS[name]
    url = url_with(password, encoded=False)
    with pytest.raises(WarehouseError) as refused:
        Warehouse(url) if role == "warehouse" else StateStore(url)
    message = str(refused.value)
    assert REFUSED in message and "postgresql+psycopg2://***@" in message and "\n" not in message
    assert not leaked(password, message)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://gate:Zq@4/Lp@[::1/warehouse",  # an IPv6 host without its bracket: no parse at all
        "postgresql://ops/Zq4Lp:x9@127.0.0.1/warehouse",  # a '/' in the user name
        "Zq@4/Lp:9 is not a URL",
    ],
    ids=["unparseable", "slash in user", "no scheme"],
)
def test_a_url_that_cannot_be_parsed_is_never_echoed(url: str) -> None:
    with pytest.raises(WarehouseError) as refused:
        Warehouse(url)
    assert not leaked("Zq@4/Lp", str(refused.value)) and not leaked("Zq4Lp:x9", str(refused.value))


def test_redaction_hides_everything_up_to_the_last_at_sign() -> None:
    assert redact_url("postgresql://gate:Zq@4/Lp@db.example:5432/w") == "postgresql://***@db.example:5432/w"
    assert redact_url("duckdb:////data/a@b.duckdb") == "duckdb:////data/a@b.duckdb"  # a path has no user-info
    assert redact_url("snowflake://account/db") == "snowflake://account/db"


def test_a_user_name_is_scrubbed_where_drivers_quote_it_not_inside_words() -> None:
    SECRETS.register_url("postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    SECRETS.register_url("postgresql+psycopg2://gate:Kx9-Pq2@127.0.0.1:5432/test")
    message = "postgresql+psycopg2: the gate's role \"postgres\" (or 'gate') failed: Kx9-Pq2"
    assert scrub(message) == "postgresql+psycopg2: the gate's role \"***\" (or '***') failed: ***"


@pytest.mark.parametrize("encoded", [True, False], ids=["percent-encoded", "raw"])
@pytest.mark.parametrize("name", [name for name, password in PASSWORDS.items() if "@" not in password])
def test_error_paths_of_an_unreachable_warehouse_and_state_scrub_the_password(
    sound_duckdb: str, caplog: pytest.LogCaptureFixture, name: str, encoded: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    password = PASSWORDS[name]
    decision = diagnose(Warehouse(url_with(password, encoded=encoded)), train_policy())
    with pytest.raises(WarehouseError) as unwritten:
        DecisionLog(StateStore(url_with(password, encoded=encoded))).record(
            RunKey("fraud", "r", "gate"), decision
        )

    assert decision.branch is Branch.ALERT and messages(decision, Status.ERROR)
    assert "Connection refused" in str(unwritten.value)
    assert not leaked(password, decision.to_json(), decision.to_markdown(), str(unwritten.value), caplog.text)


@pytest.fixture(scope="module")
def policy_file(train_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The train story's policy on PostgreSQL, named for this module's rows in the decision log."""
    folder = tmp_path_factory.mktemp("secrets") / train_schema
    folder.mkdir()
    return write_policy(folder, train_policy(schema=train_schema) | {"name": f"secrets-{train_schema}"})


@pytest.fixture(scope="module")
def logged_rows(postgres_server: str, policy_file: Path) -> Iterator[Callable[[], str]]:
    """Reads this module's rows of the decision log (default state schema) as text; deletes them afterwards."""
    engine = sa.create_engine(postgres_server)
    where = "FROM retrain_gate.retrain_gate_decisions WHERE policy_name = :name"
    name = {"name": f"secrets-{policy_file.parent.name}"}

    def rows() -> str:
        with engine.connect() as connection:
            found = connection.execute(sa.text(f"SELECT * {where}"), name).all()
        assert found, "the decision was not recorded"
        return "\n".join(str(tuple(row)) for row in found)

    yield rows
    with engine.begin() as connection:
        connection.execute(sa.text(f"DELETE {where}"), name)
    engine.dispose()


@pytest.mark.postgres
def test_the_cli_with_percent_encoded_credentials_decides_records_and_prints_no_secret(
    postgres_server: str, policy_file: Path, logged_rows: Callable[[], str]
) -> None:
    password = PASSWORDS["everything"]
    url = sa.engine.make_url(postgres_server).set(password=password).render_as_string(hide_password=False)
    assert quote("@", safe="") in url  # SQLAlchemy renders the password percent-encoded

    result = run_diagnose(policy_file, url, "--state", url, "--record", "--format", "markdown", verbose=True)

    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout
    assert not leaked(password, result.stdout, result.stderr, logged_rows())


@pytest.mark.postgres
def test_the_cli_refuses_a_raw_at_sign_in_one_line(postgres_server: str, policy_file: Path) -> None:
    password = PASSWORDS["everything"]
    raw = postgres_server.replace("postgres@", f"postgres:{password}@")
    result = run_diagnose(policy_file, raw, "--state", raw, "--record")

    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and REFUSED in result.stderr
    assert not leaked(password, result.stderr)


@pytest.mark.postgres
def test_the_cli_keeps_raw_slashes_colons_and_unicode_out_of_errors_and_the_log(
    postgres_server: str, policy_file: Path, logged_rows: Callable[[], str]
) -> None:
    password = "Wd/3:Hq%Jx-ñø"
    state = postgres_server.replace("postgres@", f"postgres:{password}@")
    unreachable = url_with(password, encoded=False)
    result = run_diagnose(policy_file, unreachable, "--state", state, "--record", verbose=True)

    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["branch"] == "alert" and "Connection refused" in result.stdout
    assert not leaked(password, result.stdout, result.stderr, logged_rows())
