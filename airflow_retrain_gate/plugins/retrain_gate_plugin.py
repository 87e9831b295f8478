"""RetrainGatePlugin: mounts the plugin app at `/retrain-gate` and adds its pages to the Airflow UI."""

from __future__ import annotations

from airflow.api_fastapi.app import API_ROOT_PATH
from airflow.sdk.plugins_manager import AirflowPlugin

from airflow_retrain_gate.plugins.app import app

URL_PREFIX = "/retrain-gate"
PAGES = f"{API_ROOT_PATH.rstrip('/')}{URL_PREFIX}"
"""Where the UI finds the pages: under the path of `[api] base_url` when Airflow is served below one."""


class RetrainGatePlugin(AirflowPlugin):
    """A "Retrain gate" page under Browse (decisions across DAGs) and a tab on every DAG run (its gates).

    Task instances of a gate link to their decision through the operator's extra link.
    """

    name = "retrain_gate"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Retrain gate"}]
    external_views = [
        {
            "name": "Retrain gate",
            "href": f"{PAGES}/",
            "url_route": "retrain-gate",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Retrain gate",
            "href": f"{PAGES}/run/{{DAG_ID}}/{{RUN_ID}}",
            "url_route": "retrain-gate-run",
            "destination": "dag_run",
        },
    ]
