"""Run the Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations
from service.db.session import prepare_sqlite_file


def alembic_config(sync_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if sync_url:
        config.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration's revision: what a migrated database records."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade_to_head(sync_url: str | None = None) -> None:
    if sync_url and sync_url.startswith("sqlite"):
        prepare_sqlite_file(sync_url)
    command.upgrade(alembic_config(sync_url), "head")


def downgrade_to_base(sync_url: str | None = None) -> None:
    command.downgrade(alembic_config(sync_url), "base")
