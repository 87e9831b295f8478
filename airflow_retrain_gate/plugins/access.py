"""Airflow's auth applied to decisions: who is asking, and which DAGs' decisions they may read.

The api-server authenticates plugin requests like its own: a JWT in the `Authorization: Bearer` header or
in the `_token` cookie the UI sets at login (`airflow.api_fastapi.core_api.security.get_user`). Each
route also asks the auth manager for read access to task instances (of the DAG in the path or in the
`dag_id` query parameter, else in general), exactly as Airflow's own task-instance routes do, and every
query is restricted to the DAGs `get_authorized_dag_ids` returns, so a user without access to a DAG gets
no data of it from any route.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
from fastapi import Depends

ReadTaskInstances = Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.TASK_INSTANCE))
"""Route dependency: the user may read task instances of the requested DAG (or of DAGs in general)."""


def readable_dag_ids(user: Annotated[BaseUser, Depends(get_user)]) -> frozenset[str]:
    """The DAGs known to Airflow whose decisions the user may read."""
    return frozenset(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


ReadableDagIds = Annotated[frozenset[str], Depends(readable_dag_ids)]
