-- 掌上数窗: the indicator library (目录, 指标, 关联, 标签属性), values by indicator × region × category ×
-- period with the load each came from, topics with their dashboard layout, and the five abilities
-- (关注, 点评, 批示). `ind_state` holds revision counters that tell every node when its caches are stale.
CREATE TABLE ind_state (
    id       BIGINT PRIMARY KEY,
    meta_rev BIGINT NOT NULL,
    data_rev BIGINT NOT NULL
);
INSERT INTO ind_state (id, meta_rev, data_rev) VALUES (1, 1, 1);

CREATE TABLE ind_catalog (
    id         BIGSERIAL PRIMARY KEY,
    parent_id  BIGINT REFERENCES ind_catalog(id),
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    topic_code TEXT NOT NULL,
    sort       BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE ind_attr_defs (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    sort    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE ind_indicators (
    id               BIGSERIAL PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    unit             TEXT NOT NULL DEFAULT '',
    definition       TEXT NOT NULL DEFAULT '',
    source           TEXT NOT NULL DEFAULT '',
    department_id    BIGINT REFERENCES departments(id),
    frequency        TEXT NOT NULL,
    agg              TEXT NOT NULL,
    additive_regions BIGINT NOT NULL DEFAULT 1,
    direction        TEXT NOT NULL DEFAULT 'up',
    is_key           BIGINT NOT NULL DEFAULT 0,
    tags             TEXT NOT NULL DEFAULT '[]',
    attrs            TEXT NOT NULL DEFAULT '{}',
    categories       TEXT,
    formula          TEXT,
    chart            TEXT NOT NULL DEFAULT 'line',
    catalog_id       BIGINT REFERENCES ind_catalog(id),
    targets          TEXT NOT NULL DEFAULT '{}',
    visible_roles    TEXT NOT NULL DEFAULT '[]',
    demo             TEXT,
    version          BIGINT NOT NULL DEFAULT 1,
    data_rev         BIGINT NOT NULL DEFAULT 0,
    latest_period    TEXT,
    loaded_at        BIGINT,
    has_demo         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE ind_relations (
    from_id BIGINT NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    to_id   BIGINT NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id, kind)
);

-- One row per load (API push, file import, demo generation): the source and time every value keeps.
CREATE TABLE ind_loads (
    id        BIGSERIAL PRIMARY KEY,
    source    TEXT NOT NULL,
    user_id   BIGINT,
    row_count BIGINT NOT NULL,
    is_demo   BIGINT NOT NULL DEFAULT 0,
    loaded_at BIGINT NOT NULL
);

-- Clustered by indicator so a series is one range read.
CREATE TABLE ind_values (
    indicator_id BIGINT NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    region_code  TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    period       TEXT NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    load_id      BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, region_code, category, period)
);

CREATE TABLE ind_topics (
    id            BIGSERIAL PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    requirement   TEXT NOT NULL DEFAULT '',
    sort          BIGINT NOT NULL DEFAULT 0,
    is_key        BIGINT NOT NULL DEFAULT 0,
    restricted    BIGINT NOT NULL DEFAULT 0,
    visible_roles TEXT NOT NULL DEFAULT '[]',
    department_id BIGINT REFERENCES departments(id),
    groups        TEXT NOT NULL DEFAULT '[]',
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE ind_follows (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL,
    target_code TEXT NOT NULL,
    region_code TEXT NOT NULL,
    yellow      DOUBLE PRECISION,
    red         DOUBLE PRECISION,
    last_light  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    UNIQUE (user_id, kind, target_code, region_code)
);
CREATE INDEX ind_follows_target ON ind_follows(kind, target_code);

CREATE TABLE ind_comments (
    id            BIGSERIAL PRIMARY KEY,
    target        TEXT NOT NULL,
    period        TEXT,
    region_code   TEXT,
    parent_id     BIGINT REFERENCES ind_comments(id),
    author_id     BIGINT NOT NULL REFERENCES users(id),
    author_region TEXT NOT NULL,
    author_dept   BIGINT,
    scope         TEXT NOT NULL,
    content       TEXT NOT NULL,
    deleted       BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX ind_comments_target ON ind_comments(target, id);

CREATE TABLE ind_instructions (
    id            BIGSERIAL PRIMARY KEY,
    target        TEXT NOT NULL,
    target_label  TEXT NOT NULL,
    context       TEXT NOT NULL DEFAULT '{}',
    content       TEXT NOT NULL,
    author_id     BIGINT NOT NULL REFERENCES users(id),
    author_region TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    deadline      TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    closed_at     BIGINT
);
CREATE INDEX ind_instructions_dept ON ind_instructions(department_id, id);
CREATE INDEX ind_instructions_author ON ind_instructions(author_id, id);

CREATE TABLE ind_instruction_log (
    id             BIGSERIAL PRIMARY KEY,
    instruction_id BIGINT NOT NULL REFERENCES ind_instructions(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    actor_id       BIGINT NOT NULL REFERENCES users(id),
    content        TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX ind_instruction_log_inst ON ind_instruction_log(instruction_id, id);
