"""The plugin's FastAPI app: decision history, one decision with its evidence, the gates of a DAG run.

Mounted by the api-server under `/retrain-gate`; HTML pages for the Airflow UI (external views) and the
same data as JSON under `/api`. Every route is authenticated and restricted to the DAGs the user may read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.sdk.exceptions import AirflowNotFoundException
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_retrain_gate.core import DecisionLog, RunKey, WarehouseError
from airflow_retrain_gate.core.decision import format_duration_s
from airflow_retrain_gate.core.decision_log import LogEntry, LoggedDecision, LogQuery
from airflow_retrain_gate.core.findings import PRECEDENCE, Finding, Status
from airflow_retrain_gate.plugins.access import ReadableDagIds, ReadTaskInstances
from airflow_retrain_gate.plugins.decision_source import decision_log, state_conn_id
from airflow_retrain_gate.plugins.evidence import Chart, finding_charts
from airflow_retrain_gate.plugins.task_instances import GateTask, gate_tasks, rendered_map_indexes
from airflow_retrain_gate.plugins.trends import TREND_DECISIONS, model_trends

PAGE_SIZE = 50
STATUS_ORDER = {Status.ERROR: 0, Status.FAIL: 1, Status.WARN: 2, Status.INSUFFICIENT_DATA: 3, Status.PASS: 4}
BRANCHES = [branch.value for branch in PRECEDENCE]


def current_log() -> DecisionLog:
    """The decision log of the configured state connection."""
    return decision_log(state_conn_id())


Log = Annotated[DecisionLog, Depends(current_log)]


@dataclass(frozen=True)
class HistoryFilters:
    """The history page's filters: DAG, policy (model), branch, an inclusive as_of date range, the page."""

    dag_id: str | None = None
    policy: str | None = None
    branch: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list."""
        return any((self.dag_id, self.policy, self.branch, self.since, self.until))

    def params(self) -> dict[str, str]:
        """The filters as query parameters (without the page)."""
        values = {
            "dag_id": self.dag_id,
            "policy": self.policy,
            "branch": self.branch,
            "since": self.since,
            "until": self.until,
        }
        return {name: str(value) for name, value in values.items() if value}

    def log_query(self, readable: frozenset[str], *, any_branch: bool = False) -> LogQuery:
        """The decision log query of these filters, limited to the DAGs the user may read."""
        return LogQuery(
            dag_ids=readable & {self.dag_id} if self.dag_id else readable,
            policy_name=self.policy,
            branch=None if any_branch else self.branch,
            since=_midnight(self.since) if self.since else None,
            until=_midnight(self.until + timedelta(days=1)) if self.until else None,
        )


FILTER_NAMES = ("dag_id", "policy", "branch", "since", "until", "page")


def history_filters(
    request: Request,
    log: Log,
    readable: ReadableDagIds,
    dag_id: str = "",
    policy: str = "",
    branch: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HistoryFilters:
    """Parse the filters; empty form fields mean 'no filter'; an unknown parameter or value is a 400."""
    unknown = sorted(set(request.query_params) - set(FILTER_NAMES))
    if unknown:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"unknown query parameter {unknown[0]!r}; the history filters by {', '.join(FILTER_NAMES)}",
        )
    if branch and branch not in BRANCHES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"branch must be one of {', '.join(BRANCHES)}")
    if policy and policy not in (policies := log.logged_policy_names(readable)):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"policy {policy!r} has no decisions in the DAGs you can read; "
            f"logged policies: {', '.join(policies) or 'none'}",
        )
    return HistoryFilters(
        dag_id or None, policy or None, branch or None, _date("since", since), _date("until", until), page
    )


Filters = Annotated[HistoryFilters, Depends(history_filters)]


class Links:
    """URLs of the plugin's pages, relative to where the api-server mounted it."""

    def __init__(self, request: Request) -> None:
        self.root = request.scope.get("root_path", "").rstrip("/")

    def history(self, **params: Any) -> str:
        """The history page with query parameters."""
        query = urlencode({name: value for name, value in params.items() if value})
        return f"{self.root}/" + (f"?{query}" if query else "")

    def decision(self, key: RunKey) -> str:
        """The page of one decision."""
        return f"{self.root}/decision/{_path(key.dag_id, key.run_id, key.task_id)}?map_index={key.map_index}"

    def decision_json(self, key: RunKey) -> str:
        """The JSON of one decision."""
        return f"{self.root}/api/decisions/{_path(key.dag_id, key.run_id, key.task_id)}?map_index={key.map_index}"

    def run(self, dag_id: str, run_id: str) -> str:
        """The gate decisions of one DAG run."""
        return f"{self.root}/run/{_path(dag_id, run_id)}"

    def task_log(self, key: RunKey, try_number: int) -> str:
        """The task instance's log in Airflow's UI (its task instance page opens on the log)."""
        mapped = f"/mapped/{key.map_index}" if key.map_index >= 0 else ""
        query = f"?try_number={try_number}" if try_number > 0 else ""
        run = f"{self.ui}/dags/{_path(key.dag_id)}/runs/{_path(key.run_id)}"
        return f"{run}/tasks/{_path(key.task_id)}{mapped}{query}"

    def grid(self, dag_id: str, run_id: str) -> str:
        """The DAG run in Airflow's UI: the Grid with the run selected."""
        return f"{self.ui}/dags/{_path(dag_id)}/runs/{_path(run_id)}"

    @property
    def ui(self) -> str:
        """Airflow's UI root: where the api-server mounted the plugin, without the plugin's own prefix."""
        return self.root[: self.root.rfind("/")]


@dataclass(frozen=True)
class FindingView:
    """A finding as the decision page shows it: with its charts and whether it decided the branch."""

    finding: Finding
    charts: list[Chart]
    deciding: bool

    @property
    def passed(self) -> bool:
        """Whether the finding passed (the page folds those away)."""
        return self.finding.status is Status.PASS


def create_app() -> FastAPI:
    """The FastAPI app the plugin mounts; every route needs a logged-in user and filters by DAG access."""
    app = FastAPI(title="Retrain gate", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
    templates.env.filters.update(utc=_utc, seconds=format_duration_s, number=_number)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"links": Links(request), **context}, status_code=status_code
        )

    @app.get("/", response_class=HTMLResponse, dependencies=[ReadTaskInstances])
    def history_page(
        request: Request, log: Log, readable: ReadableDagIds, filters: Filters, session: SessionDep
    ) -> HTMLResponse:
        entries, total = _history(log, readable, filters)
        first = (filters.page - 1) * PAGE_SIZE + 1
        trends = []
        if filters.policy:
            # Every branch: the branch chart is the point; the branch filter narrows the table only.
            query = filters.log_query(readable, any_branch=True)
            trends = model_trends(log.decisions(query, limit=TREND_DECISIONS))
        return page(
            request,
            "history.html",
            entries=entries,
            total=total,
            first=first,
            last=first + len(entries) - 1,
            filters=filters,
            dag_ids=[dag_id for dag_id in log.logged_dag_ids() if dag_id in readable],
            policies=log.logged_policy_names(readable),
            branches=BRANCHES,
            trends=trends,
            trend_size=TREND_DECISIONS,
            map_labels=rendered_map_indexes(session, [entry.key for entry in entries]),
            conn_id=state_conn_id(),
        )

    @app.get(
        "/decision/{dag_id}/{run_id}/{task_id}", response_class=HTMLResponse, dependencies=[ReadTaskInstances]
    )
    def decision_page(
        request: Request,
        log: Log,
        readable: ReadableDagIds,
        dag_id: str,
        run_id: str,
        task_id: str,
        session: SessionDep,
        map_index: str = "-1",
    ) -> HTMLResponse:
        key = RunKey(dag_id, run_id, task_id, _map_index(map_index))
        logged = log.get(key) if dag_id in readable else None
        if logged is None:
            # A gate that failed (or has not finished) has no row: say what Airflow knows of it.
            tasks = gate_tasks(session, dag_id, run_id) if dag_id in readable else []
            if task := next((task for task in tasks if task.key == key), None):
                return page(request, "undecided.html", 404, task=task, map_labels=_map_labels(tasks))
            raise _not_logged()
        views = _finding_views(logged)
        return page(
            request,
            "decision.html",
            logged=logged,
            findings=views,
            deciding=[v for v in views if v.deciding],
            map_labels=rendered_map_indexes(session, [logged.entry.key]),
        )

    @app.get("/run/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=[ReadTaskInstances])
    def run_page(
        request: Request, log: Log, readable: ReadableDagIds, session: SessionDep, dag_id: str, run_id: str
    ) -> Response:
        if dag_id not in readable:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no DAG {dag_id!r} you can read")
        entries = log.history(LogQuery(dag_ids=[dag_id], run_id=run_id))
        tasks = gate_tasks(session, dag_id, run_id)
        logged = {entry.key for entry in entries}
        undecided = [task for task in tasks if task.key not in logged]
        if len(entries) == 1 and not undecided:
            return RedirectResponse(Links(request).decision(entries[0].key), status.HTTP_303_SEE_OTHER)
        return page(
            request,
            "run.html",
            entries=entries,
            undecided=undecided,
            dag_id=dag_id,
            run_id=run_id,
            map_labels=_map_labels(tasks),
        )

    @app.get("/api/decisions", dependencies=[ReadTaskInstances])
    def history_json(
        request: Request, log: Log, readable: ReadableDagIds, filters: Filters, session: SessionDep
    ) -> dict[str, Any]:
        entries, total = _history(log, readable, filters)
        links = Links(request)
        labels = rendered_map_indexes(session, [entry.key for entry in entries])
        return {
            "total": total,
            "page": filters.page,
            "page_size": PAGE_SIZE,
            "decisions": [_entry_json(entry, links, labels) for entry in entries],
        }

    @app.get("/api/decisions/{dag_id}/{run_id}/{task_id}", dependencies=[ReadTaskInstances])
    def decision_json(
        request: Request,
        log: Log,
        readable: ReadableDagIds,
        dag_id: str,
        run_id: str,
        task_id: str,
        session: SessionDep,
        map_index: str = "-1",
    ) -> dict[str, Any]:
        logged = _logged(log, readable, RunKey(dag_id, run_id, task_id, _map_index(map_index)))
        labels = rendered_map_indexes(session, [logged.entry.key])
        return {**_entry_json(logged.entry, Links(request), labels), "decision": logged.decision.to_dict()}

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        if error.status_code == status.HTTP_401_UNAUTHORIZED:
            return RedirectResponse(
                get_auth_manager().get_url_login(next_url=str(request.url)), status.HTTP_303_SEE_OTHER
            )
        heading = {403: "Not allowed", 404: "Not found"}.get(error.status_code, "Cannot show this page")
        return page(request, "message.html", error.status_code, heading=heading, message=str(error.detail))

    @app.exception_handler(WarehouseError)
    @app.exception_handler(AirflowNotFoundException)
    @app.exception_handler(sa.exc.SQLAlchemyError)
    def log_unavailable(request: Request, error: Exception) -> Response:
        message = (
            f"The retrain gate cannot read its decision log on connection {state_conn_id()!r}: {error}. "
            "Set [retrain_gate] state_conn_id (AIRFLOW__RETRAIN_GATE__STATE_CONN_ID) to the connection "
            "whose state database the gates write to."
        )
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return page(
            request,
            "message.html",
            status.HTTP_503_SERVICE_UNAVAILABLE,
            heading="Decision log unavailable",
            message=message,
        )

    return app


def _history(
    log: DecisionLog, readable: frozenset[str], filters: HistoryFilters
) -> tuple[list[LogEntry], int]:
    query = filters.log_query(readable)
    entries = log.history(query, limit=PAGE_SIZE, offset=(filters.page - 1) * PAGE_SIZE)
    return entries, log.count(query)


def _logged(log: DecisionLog, readable: frozenset[str], key: RunKey) -> LoggedDecision:
    logged = log.get(key) if key.dag_id in readable else None
    if logged is None:
        raise _not_logged()
    return logged


def _not_logged() -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, "no retrain gate decision is logged for this task instance"
    )


def _map_labels(tasks: list[GateTask]) -> dict[RunKey, str]:
    return {task.key: task.rendered_map_index for task in tasks if task.rendered_map_index is not None}


def _finding_views(logged: LoggedDecision) -> list[FindingView]:
    """Deciding findings first, then by severity; charts for those and for every finding that did not pass."""
    findings = logged.decision.findings
    rank = {id(finding): index for index, finding in enumerate(logged.decision.deciding_findings)}
    views = [
        FindingView(
            finding,
            finding_charts(finding) if id(finding) in rank or finding.status is not Status.PASS else [],
            id(finding) in rank,
        )
        for finding in findings
    ]
    return sorted(
        views,
        key=lambda view: (
            rank.get(id(view.finding), len(rank)),
            STATUS_ORDER[view.finding.status],
            view.finding.check,
            view.finding.subject,
        ),
    )


def _entry_json(entry: LogEntry, links: Links, map_labels: dict[RunKey, str]) -> dict[str, Any]:
    data = asdict(entry)
    data["deciding_checks"] = list(entry.deciding_checks)
    data["effective_branch"] = entry.effective_branch
    data["rendered_map_index"] = map_labels.get(entry.key)
    data["url"] = links.decision(entry.key)
    return _iso(data)


def _iso(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    return value.isoformat() if isinstance(value, datetime) else value


def _wants_json(request: Request) -> bool:
    return request.url.path.removeprefix(request.scope.get("root_path", "")).startswith("/api/")


def _map_index(text: str) -> int:
    """The map index; a placeholder the UI left unfilled (unmapped task) means -1."""
    try:
        return int(text)
    except ValueError:
        return -1


def _date(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"{name} must be a date like 2024-06-01, not {text!r}"
        ) from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _path(*segments: str) -> str:
    return "/".join(quote(segment, safe="") for segment in segments)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


app = create_app()
