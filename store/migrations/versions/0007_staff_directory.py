"""The staff directory: who a task may be given to (their roles and schools).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("schools", sa.Text(), nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff")
