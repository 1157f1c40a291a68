-- 招商引资项目管理: projects (first-contact facts, stage mirrored from the workflow, 项目统一代码,
-- soft delete), field-level change log, review/signing/production materials with attachments, and
-- transfers between counties (kept for both sides).
CREATE TABLE inv_projects (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT NOT NULL,
    investor           TEXT NOT NULL,
    investor_origin    TEXT,
    industry_code      TEXT NOT NULL,
    amount             DOUBLE PRECISION NOT NULL,
    land_area          DOUBLE PRECISION,
    expected_output    DOUBLE PRECISION,
    expected_tax       DOUBLE PRECISION,
    contact_name       TEXT NOT NULL,
    contact_phone      TEXT NOT NULL,
    contact_phone_mask TEXT NOT NULL,
    source             TEXT NOT NULL,
    first_contact_date TEXT NOT NULL,
    region_code        TEXT NOT NULL,
    pending_region     TEXT,
    stage              TEXT NOT NULL,
    code               TEXT UNIQUE,
    is_legacy          BIGINT NOT NULL DEFAULT 0,
    is_demo            BIGINT NOT NULL DEFAULT 0,
    remark             TEXT,
    search_text        TEXT NOT NULL DEFAULT '',
    signed_at          TEXT,
    produced_at        TEXT,
    instance_id        BIGINT,
    version            BIGINT NOT NULL DEFAULT 1,
    created_by         BIGINT NOT NULL,
    created_by_name    TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    deleted_at         BIGINT,
    deleted_by         BIGINT,
    delete_reason      TEXT
);
-- Projects sit at county level: a county's list is `region_code = ?`, the city's has no region
-- condition. Partial indexes over live rows let pages read in id order and counts stay index-only.
CREATE INDEX inv_projects_region ON inv_projects(region_code, id) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_region_stage ON inv_projects(region_code, stage, id) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_region_date ON inv_projects(region_code, first_contact_date) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_region_industry ON inv_projects(region_code, industry_code, amount) WHERE deleted_at IS NULL;
-- Keyword search reads name, investor and code from one short column through these indexes.
CREATE INDEX inv_projects_region_search ON inv_projects(region_code, search_text) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_search ON inv_projects(search_text) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_stage ON inv_projects(stage, id) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_date ON inv_projects(first_contact_date) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_industry ON inv_projects(industry_code, amount) WHERE deleted_at IS NULL;
CREATE INDEX inv_projects_pending ON inv_projects(pending_region) WHERE pending_region IS NOT NULL;
CREATE INDEX inv_projects_instance ON inv_projects(instance_id);

CREATE TABLE inv_changes (
    id         BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES inv_projects(id),
    at         BIGINT NOT NULL,
    actor_id   BIGINT,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    changes    TEXT NOT NULL
);
CREATE INDEX inv_changes_project ON inv_changes(project_id, id);

CREATE TABLE inv_files (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    doc_type     TEXT NOT NULL,
    sm3          TEXT NOT NULL,
    body         BYTEA NOT NULL,
    region_code  TEXT NOT NULL,
    uploaded_by  BIGINT NOT NULL,
    uploaded_at  BIGINT NOT NULL
);

CREATE TABLE inv_materials (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES inv_projects(id),
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    data            TEXT NOT NULL,
    files           TEXT NOT NULL DEFAULT '[]',
    notified        TEXT NOT NULL DEFAULT '[]',
    created_by_name TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    submitted_at    BIGINT
);
CREATE INDEX inv_materials_project ON inv_materials(project_id, kind);

CREATE TABLE inv_transfers (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES inv_projects(id),
    from_region     TEXT NOT NULL,
    to_region       TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    reply           TEXT,
    created_at      BIGINT NOT NULL,
    created_by_name TEXT NOT NULL,
    handled_at      BIGINT,
    handled_by_name TEXT
);
CREATE INDEX inv_transfers_from ON inv_transfers(from_region, id);
CREATE INDEX inv_transfers_to ON inv_transfers(to_region, id);
