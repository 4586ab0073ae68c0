"""Run the Alembic migrations of dmp, programmatically (``dmp db upgrade``).

Some revisions are followed by an application step that needs the keys (sealing values that
were in clear): ``services.migration`` walks the pending revisions one at a time
(:func:`pending_revisions`) and runs that step right after its revision.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from dmp.errors import IntegrityError


def alembic_config() -> Config:
    config = Config()
    location = resources.files("dmp.adapters.db").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction: a refused or failed revision leaves the
    database as it was.

    On SQLite, a revision that changes a column rebuilds its table (copy, drop, rename); foreign
    keys are switched off meanwhile, as SQLite's own procedure for such changes says, and checked
    before the commit.
    """
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, on=False)
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Outside any transaction (SQLite ignores this pragma inside one): on the driver's
    connection, so that SQLAlchemy does not begin one first."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise IntegrityError(
            f"Migration annulée : {len(broken)} référence(s) rompue(s) après la reconstruction "
            "d'une table."
        )


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The latest revision of the schema, the one ``upgrade`` brings a database to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the migrations ship with the package
    return head


def pending_revisions(engine: Engine) -> list[str]:
    """The revisions not applied yet, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    found = [r.revision for r in script.iterate_revisions("heads", current)]
    return [r for r in reversed(found) if r != current]


def compact(engine: Engine) -> None:
    """SQLite: rewrite the file without its free pages, and empty the write-ahead log, so that
    no page that held a value now sealed stays in either. (PostgreSQL keeps old row versions
    until ``VACUUM FULL``: an operator's step, see the README.)"""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("VACUUM")
        autocommit.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
