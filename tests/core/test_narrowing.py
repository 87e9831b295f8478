"""A UNION ALL of GROUP BYs gives each branch a derived table with only the columns it reads."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.narrowing import narrowed
from airflow_retrain_gate.core.profiling.queries import grouped


def _wide_window(columns: int) -> tuple[sa.Table, sa.Subquery]:
    metadata = sa.MetaData()
    table = sa.Table(
        "features",
        metadata,
        sa.Column("day", sa.Integer),
        *(sa.Column(f"x{index}", sa.Float) for index in range(columns)),
    )
    cleaned = [sa.func.abs(table.c[f"x{index}"]).label(f"v{index}") for index in range(columns)]
    return table, sa.select(table.c.day, *cleaned).where(table.c.day >= 0).subquery("window_rows")


def test_each_branch_reads_only_its_own_column(tmp_path):
    table, rows = _wide_window(30)
    keys = {"day": rows.c.day, **{f"b{index}": sa.func.floor(rows.c[f"v{index}"]) for index in range(30)}}
    sets = [("day", f"b{index}") for index in range(30)]
    query = grouped(rows, [], keys, sets, [sa.func.count().label("n")], grouping_sets=False)

    branches = str(query.compile(dialect=sa.create_engine("sqlite://").dialect)).split("UNION ALL")
    assert len(branches) == 30
    assert "abs(features.x7)" in branches[7]
    assert [branch.count("abs(") for branch in branches] == [1] * 30

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [
                {"day": day % 3, **{f"x{index}": float(day * index - 40) for index in range(30)}}
                for day in range(60)
            ],
        )
        wide = grouped(rows, [], keys, sets, [sa.func.count().label("n")], grouping_sets=False)
        narrow_rows = sorted(connection.execute(wide).all(), key=repr)
        whole_rows = sorted(
            connection.execute(
                sa.union_all(
                    *(
                        sa.select(
                            rows.c.day,
                            *(
                                keys[f"b{other}"].label(f"b{other}")
                                if other == index
                                else sa.cast(sa.null(), sa.Float).label(f"b{other}")
                                for other in range(30)
                            ),
                            sa.func.count().label("n"),
                        ).group_by(rows.c.day, keys[f"b{index}"])
                        for index in range(30)
                    )
                )
            ).all(),
            key=repr,
        )
    assert narrow_rows == whole_rows


def test_distinct_derived_tables_and_plain_tables_stay_whole():
    table, rows = _wide_window(3)
    distinct_rows = sa.select(table.c.day, table.c.x0, table.c.x1).distinct().subquery("distinct_rows")
    assert narrowed(distinct_rows, [distinct_rows.c.x0])[0] is distinct_rows
    assert narrowed(table, [table.c.x0])[0] is table


def test_where_clauses_follow_the_narrowed_table():
    _, rows = _wide_window(5)
    narrow, (key, condition) = narrowed(rows, [rows.c.v3, rows.c.day > 1])
    assert [column.key for column in narrow.c] == ["v3", "day"]
    assert key.table is narrow and condition.left.table is narrow
