"""RetrainGatePlugin: mounts the plugin app at `/retrain-gate` and adds its pages to the Airflow UI.

Every task process loads every plugin (for its macros), so this module imports neither the pages' FastAPI
app nor the core it reads: they load on the first request to the api-server, not in each task of each DAG.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow.sdk.configuration import conf
from airflow.sdk.plugins_manager import AirflowPlugin

URL_PREFIX = "/retrain-gate"


def api_root_path() -> str:
    """The path of `[api] base_url`, ending in "/", read as `airflow.api_fastapi.app.API_ROOT_PATH` reads it."""
    base_url = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base_url if base_url.endswith("/") else f"{base_url}/").path


PAGES = f"{api_root_path().rstrip('/')}{URL_PREFIX}"
"""Where the UI finds the pages: under the path of `[api] base_url` when Airflow is served below one."""


async def pages_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app mounted at `URL_PREFIX`: hands each request to the pages' FastAPI app, imported on the first."""
    from airflow_retrain_gate.plugins.app import app

    await app(scope, receive, send)


class RetrainGatePlugin(AirflowPlugin):
    """A "Retrain gate" page under Browse (decisions across DAGs) and a tab on every DAG run (its gates).

    Task instances of a gate link to their decision through the operator's extra link.
    """

    name = "retrain_gate"
    fastapi_apps = [{"app": pages_app, "url_prefix": URL_PREFIX, "name": "Retrain gate"}]
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
