-- Workflow engine: versioned definitions, instances bound to business records, per-user tasks,
-- the step log, and the working-day calendar's exceptions (holidays and make-up workdays).
CREATE TABLE wf_definitions (
    id            BIGSERIAL PRIMARY KEY,
    code          TEXT NOT NULL,
    version       BIGINT NOT NULL,
    name          TEXT NOT NULL,
    business_type TEXT NOT NULL,
    body          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (code, version)
);

CREATE TABLE wf_instances (
    id             BIGSERIAL PRIMARY KEY,
    definition     TEXT NOT NULL,
    def_version    BIGINT NOT NULL,
    business_type  TEXT NOT NULL,
    business_id    BIGINT NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL DEFAULT '[]',
    region_code    TEXT NOT NULL,
    state          TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'running',
    pending_region TEXT,
    origin_state   TEXT,
    version        BIGINT NOT NULL DEFAULT 1,
    initiator_id   BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (business_type, business_id)
);
CREATE INDEX wf_instances_region ON wf_instances(region_code);

CREATE TABLE wf_tasks (
    id             BIGSERIAL PRIMARY KEY,
    instance_id    BIGINT NOT NULL REFERENCES wf_instances(id),
    kind           TEXT NOT NULL DEFAULT 'todo',
    step           TEXT NOT NULL,
    business_type  TEXT NOT NULL DEFAULT '',
    assignee_id    BIGINT NOT NULL,
    status         TEXT NOT NULL,
    seq            BIGINT NOT NULL DEFAULT 0,
    added          BIGINT NOT NULL DEFAULT 0,
    delegated_from BIGINT,
    due_at         BIGINT,
    due_date       TEXT,
    card           TEXT NOT NULL DEFAULT 'none',
    urged          BIGINT NOT NULL DEFAULT 0,
    urged_at       BIGINT,
    read_at        BIGINT,
    jobs_scheduled BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    handled_at     BIGINT,
    result         TEXT
);
-- The inbox: one index range per user and box, counted without touching the instances.
CREATE INDEX wf_tasks_inbox ON wf_tasks(assignee_id, kind, status, id);
CREATE INDEX wf_tasks_inbox_type ON wf_tasks(assignee_id, kind, status, business_type, id);
CREATE INDEX wf_tasks_instance ON wf_tasks(instance_id, status);

CREATE TABLE wf_log (
    id          BIGSERIAL PRIMARY KEY,
    instance_id BIGINT NOT NULL REFERENCES wf_instances(id),
    at          BIGINT NOT NULL,
    actor_id    BIGINT,
    actor_name  TEXT NOT NULL,
    actor_role  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    action_name TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    attachments TEXT NOT NULL DEFAULT '[]',
    changes     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX wf_log_instance ON wf_log(instance_id, id);

CREATE TABLE wf_calendar (
    day        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT 'pack',
    updated_at BIGINT NOT NULL
);

CREATE TABLE wf_state (
    id      BIGINT PRIMARY KEY,
    cal_rev BIGINT NOT NULL DEFAULT 0
);
INSERT INTO wf_state (id, cal_rev) VALUES (1, 0);
