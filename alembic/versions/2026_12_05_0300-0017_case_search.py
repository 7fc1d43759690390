"""The desk's search: each case's character bigrams (a generated column from an immutable function, with a
GIN index) for Chinese words of any length from two characters, reversed codes and phone numbers for their
tails, and the receipt time for the newest first (server/case/search.py says why).

Both functions call only built-in functions, so that a restore, which runs with an empty search path,
computes the column again as here. The bigrams are made in PL/pgSQL over the text's characters as an array:
as one SQL statement the function cost 250 microseconds a case (a subquery run per call), and ``substr``
walking a long text from its start for every position grows with the square of its length.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One spelling for the text and for what is searched: NFKC (full-width letters and digits, the ideographic
# space), lower case, every run of white space one space.
NORM_SQL = r"regexp_replace(lower(normalize(coalesce({value}, ''), NFKC)), '\s+', ' ', 'g')"
NORM = f"""
CREATE FUNCTION case_search_norm(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN {NORM_SQL.format(value="value")}
"""
# The bigrams of the address and description (two characters side by side, neither a space), and those of the
# reporter's name marked with a leading @ (three characters: never one of the others); each once, in order.
GRAMS = f"""
CREATE FUNCTION case_search_grams(address text, description text, reporter_name text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    doc text[] := string_to_array(
        {NORM_SQL.format(value="coalesce(address, '') || ' ' || coalesce(description, '')")}, NULL
    );
    name text[] := string_to_array({NORM_SQL.format(value="reporter_name")}, NULL);
    grams text[] := '{{}}';
BEGIN
    FOR i IN 1 .. cardinality(doc) - 1 LOOP
        IF doc[i] <> ' ' AND doc[i + 1] <> ' ' THEN
            grams := grams || (doc[i] || doc[i + 1]);
        END IF;
    END LOOP;
    FOR i IN 1 .. cardinality(name) - 1 LOOP
        IF name[i] <> ' ' AND name[i + 1] <> ' ' THEN
            grams := grams || ('@' || name[i] || name[i + 1]);
        END IF;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT gram FROM unnest(grams) AS gram ORDER BY gram);
END
$$
"""


def upgrade() -> None:
    op.execute(NORM)
    op.execute(GRAMS)
    op.add_column(
        "case_file",
        sa.Column(
            "search_grams",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("case_search_grams(address, description, reporter_name)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index("ix_case_file_search_grams", "case_file", ["search_grams"], postgresql_using="gin")
    op.execute("CREATE INDEX ix_case_file_code_tail ON case_file (reverse(code) text_pattern_ops)")
    # not partial: the planner keeps statistics of the expression (how rare a tail is) only so
    op.execute("CREATE INDEX ix_case_file_phone_tail ON case_file (reverse(reporter_phone) text_pattern_ops)")
    op.create_index("ix_case_file_received_at", "case_file", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_case_file_received_at", table_name="case_file")
    op.drop_index("ix_case_file_phone_tail", table_name="case_file")
    op.drop_index("ix_case_file_code_tail", table_name="case_file")
    op.drop_index("ix_case_file_search_grams", table_name="case_file")
    op.drop_column("case_file", "search_grams")
    op.execute("DROP FUNCTION case_search_grams(text, text, text)")
    op.execute("DROP FUNCTION case_search_norm(text)")
