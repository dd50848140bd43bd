"""The API's JSON shapes (pydantic): what the OpenAPI document publishes and responses are
validated against. Datetimes are ISO 8601 UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LIMIT = 1000


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Model):
    total_entries: int


class Dag(Model):
    dag_id: str
    fileloc: str
    is_paused: bool
    is_active: bool
    timetable_summary: str | None
    description: str | None
    tags: list[str]
    owners: str | None
    last_parsed_at: datetime | None
    next_dagrun_logical_date: datetime | None
    next_dagrun_create_after: datetime | None


class DagPage(Page):
    dags: list[Dag]


class DagPatch(Model):
    is_paused: bool


class StructureTask(Model):
    task_id: str
    operator: str
    trigger_rule: str
    task_group: str | None
    pool: str
    retries: int
    upstream: list[str]
    downstream: list[str]


class Edge(Model):
    source: str
    target: str


class TaskGroup(Model):
    group_id: str
    parent: str | None
    tasks: list[str]


class DagStructure(Model):
    dag_id: str
    tasks: list[StructureTask]
    edges: list[Edge]
    groups: list[TaskGroup]
    params: dict[str, Any]


class DagRun(Model):
    dag_id: str
    run_id: str
    run_type: str
    state: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any] | None
    external_trigger: bool


class DagRunPage(Page):
    dag_runs: list[DagRun]


class TriggerRequest(Model):
    conf: dict[str, Any] = Field(default_factory=dict)
    logical_date: datetime | None = None
    run_id: str | None = Field(default=None, min_length=1, max_length=248)


class ClearRunRequest(Model):
    only_failed: bool = False


class ClearTasksRequest(Model):
    task_ids: list[str] = Field(min_length=1, max_length=10_000)
    downstream: bool = False
    upstream: bool = False


class StatePatch(Model):
    state: Literal["success", "failed"]


class MarkTaskRequest(Model):
    state: Literal["success", "failed"]
    downstream: bool = False
    upstream: bool = False


class TaskIds(Model):
    task_ids: list[str]


class TaskInstance(Model):
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    max_tries: int
    priority_weight: int
    pool: str
    pool_slots: int
    queue: str
    operator: str | None
    scheduled_dttm: datetime | None
    queued_dttm: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    next_retry_at: datetime | None
    error: str | None


class TaskInstancePage(Page):
    task_instances: list[TaskInstance]


class Try(Model):
    try_number: int
    state: str
    recorded_at: datetime | None
    hostname: str | None
    error: str | None
    reason: str | None


class RenderedFields(Model):
    """The task's template fields as a try rendered them (secrets masked as ``***``)."""

    try_number: int = Field(description="The try that rendered them (the latest one that did).")
    rendered_at: datetime
    fields: dict[str, Any] = Field(description="Template field -> rendered value (JSON, or its text).")


class TaskInstanceDetail(TaskInstance):
    tries: list[Try]
    rendered_fields: RenderedFields | None = Field(
        default=None, description="None until a try of a task with template fields has rendered them."
    )


class XCom(Model):
    key: str
    value: Any


class XComList(Model):
    xcom_entries: list[XCom]


class LogChunk(Model):
    try_number: int
    content: str
    offset: int
    next_offset: int
    size: int


class ImportError_(Model):
    filename: str
    timestamp: datetime
    stacktrace: str


class ImportErrorPage(Page):
    import_errors: list[ImportError_]


class Pool(Model):
    name: str = Field(min_length=1, max_length=256)
    slots: int = Field(ge=0, le=1_000_000)
    description: str | None = None


class PoolPatch(Model):
    slots: int | None = Field(default=None, ge=0, le=1_000_000)
    description: str | None = None


class PoolPage(Page):
    pools: list[Pool]


class ConfigOption(Model):
    section: str
    key: str
    value: str
    source: str


class Config(Model):
    options: list[ConfigOption]


class Heartbeat(Model):
    status: Literal["healthy", "unhealthy", "unknown"]
    latest_heartbeat: datetime | None
    heartbeat_age_seconds: float | None


class HealthCounts(Model):
    """What the health panel shows besides heartbeats, read from the metadata database."""

    scheduler_loop_p95_seconds: float | None = Field(
        default=None, description="95th percentile of the running scheduler's recent passes (its job row)."
    )
    scheduler_loop_samples: int | None = Field(
        default=None, description="How many passes that percentile covers."
    )
    queued: int | None = None
    scheduled: int | None = None
    running: int | None = None
    open_slots: int | None = Field(default=None, description="Pool slots no queued or running try holds.")
    total_slots: int | None = None
    import_errors: int | None = None


class Health(HealthCounts):
    """The counts are None when the database is unreachable."""

    metadatabase: Literal["healthy", "unhealthy"]
    scheduler: Heartbeat
    dag_processor: Heartbeat


class Version(Model):
    version: str


class AuditEntry(Model):
    id: int
    at: datetime
    username: str | None
    action: str
    method: str
    target: str
    status_code: int
    result: str
    remote_addr: str | None


class AuditPage(Page):
    audit_log: list[AuditEntry]


class LoginRequest(Model):
    username: str = Field(min_length=1, max_length=250)
    password: str = Field(min_length=1, max_length=1024)


class Me(Model):
    username: str
    role: str


class LoginResponse(Me):
    csrf_token: str


class TokenRequest(Model):
    name: str = Field(min_length=1, max_length=250)


class Token(Model):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class NewToken(Token):
    token: str


class TokenList(Model):
    tokens: list[Token]


class UserOut(Model):
    username: str
    role: str
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(Model):
    username: str = Field(min_length=1, max_length=250)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["viewer", "operator", "admin"] = "viewer"


class UserList(Model):
    users: list[UserOut]


class Error(Model):
    detail: Any


#: The error answers every route may give (documented so clients and schemathesis expect them).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text}
    for code, text in (
        (400, "The request was refused: the detail names the culprit."),
        (401, "Not authenticated."),
        (403, "The role is too small, or a cookie session lacks its CSRF token."),
        (404, "No such DAG, run, task instance, pool, user, token or log."),
        (409, "It clashes with what exists (a duplicate run id, pool or user)."),
        (429, "Too many failed logins."),
    )
}


class WhyReason(BaseModel):
    """One thing that holds a task instance back: a stable ``code``, a sentence, and its facts."""

    code: str
    message: str
    details: dict[str, Any]


class WhyAnswer(BaseModel):
    """ "Why isn't this task running?": the answer of ``windvane tasks why``, from the scheduler's own
    readiness rules (``verdict``: ready, waiting, will_not_run, queued, running, finished)."""

    dag_id: str
    task_id: str
    run_id: str
    state: str | None
    verdict: str
    ready: bool
    summary: str
    reasons: list[WhyReason]
