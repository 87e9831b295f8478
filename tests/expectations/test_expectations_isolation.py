"""GX stays out of the way: imported only for policies with a suite, quiet in task logs, and never on the network."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.expectations.conftest import SUITE_PATH, FeatureWarehouse, story_features

GATE_TWICE = textwrap.dedent(
    """
    import json, logging, sys

    OUTBOUND = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg"}
    network = []
    sys.addaudithook(lambda event, args: network.append(f"{event} {args!r}") if event in OUTBOUND else None)
    logging.basicConfig(level=logging.INFO)  # as Airflow's task log and the CLI do

    from airflow_retrain_gate.core import Warehouse, parse_policy, run_gate
    from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
    from tests.expectations.conftest import FeatureWarehouse

    feature_warehouse = FeatureWarehouse(sys.argv[1], None)
    without_suite = feature_warehouse.gate()
    imported_without_suite = "great_expectations" in sys.modules
    with_suite = feature_warehouse.gate(suite=sys.argv[2])
    print(json.dumps({
        "imported_without_suite": imported_without_suite,
        "imported_with_suite": "great_expectations" in sys.modules,
        "network": network,
        "branches": [without_suite.branch.value, with_suite.branch.value],
    }))
    """
)


def test_gx_is_lazy_quiet_and_offline(duckdb_url: str) -> None:
    FeatureWarehouse(duckdb_url, None).load(story_features("healthy"))

    done = subprocess.run(
        [sys.executable, "-c", GATE_TWICE, duckdb_url, str(SUITE_PATH)],
        capture_output=True,
        text=True,
        check=True,
    )

    outcome = json.loads(done.stdout)
    assert outcome["branches"] == ["skip", "skip"]
    assert outcome["imported_without_suite"] is False
    assert outcome["imported_with_suite"] is True
    assert outcome["network"] == []
    gx_lines = [
        line
        for line in done.stderr.splitlines()
        if "great_expectations" in line or "Calculating Metrics" in line
    ]
    assert gx_lines == []
    assert (
        "airflow_retrain_gate:expectations: suite 'features_contract' via pandas on duckdb; GX import"
        in done.stderr
    )
    assert "Warning" not in done.stderr
