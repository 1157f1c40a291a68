-- 掌上数窗: the indicator library (目录, 指标, 关联, 标签属性), values by indicator × region × category ×
-- period with the load each came from, topics with their dashboard layout, and the five abilities
-- (关注, 点评, 批示). `ind_state` holds revision counters that tell every node when its caches are stale.
CREATE TABLE ind_state (
    id       INTEGER PRIMARY KEY,
    meta_rev INTEGER NOT NULL,
    data_rev INTEGER NOT NULL
);
INSERT INTO ind_state (id, meta_rev, data_rev) VALUES (1, 1, 1);

CREATE TABLE ind_catalog (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id  INTEGER REFERENCES ind_catalog(id),
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    topic_code TEXT NOT NULL,
    sort       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE ind_attr_defs (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    sort    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE ind_indicators (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    unit             TEXT NOT NULL DEFAULT '',
    definition       TEXT NOT NULL DEFAULT '',
    source           TEXT NOT NULL DEFAULT '',
    department_id    INTEGER REFERENCES departments(id),
    frequency        TEXT NOT NULL,
    agg              TEXT NOT NULL,
    additive_regions INTEGER NOT NULL DEFAULT 1,
    direction        TEXT NOT NULL DEFAULT 'up',
    is_key           INTEGER NOT NULL DEFAULT 0,
    tags             TEXT NOT NULL DEFAULT '[]',
    attrs            TEXT NOT NULL DEFAULT '{}',
    categories       TEXT,
    formula          TEXT,
    chart            TEXT NOT NULL DEFAULT 'line',
    catalog_id       INTEGER REFERENCES ind_catalog(id),
    targets          TEXT NOT NULL DEFAULT '{}',
    visible_roles    TEXT NOT NULL DEFAULT '[]',
    demo             TEXT,
    version          INTEGER NOT NULL DEFAULT 1,
    data_rev         INTEGER NOT NULL DEFAULT 0,
    latest_period    TEXT,
    loaded_at        INTEGER,
    has_demo         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE ind_relations (
    from_id INTEGER NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    to_id   INTEGER NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id, kind)
);

-- One row per load (API push, file import, demo generation): the source and time every value keeps.
CREATE TABLE ind_loads (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    source    TEXT NOT NULL,
    user_id   INTEGER,
    row_count INTEGER NOT NULL,
    is_demo   INTEGER NOT NULL DEFAULT 0,
    loaded_at INTEGER NOT NULL
);

-- Clustered by indicator so a series is one range read.
CREATE TABLE ind_values (
    indicator_id INTEGER NOT NULL REFERENCES ind_indicators(id) ON DELETE CASCADE,
    region_code  TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    period       TEXT NOT NULL,
    value        REAL NOT NULL,
    load_id      INTEGER NOT NULL,
    PRIMARY KEY (indicator_id, region_code, category, period)
) WITHOUT ROWID;

CREATE TABLE ind_topics (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    requirement   TEXT NOT NULL DEFAULT '',
    sort          INTEGER NOT NULL DEFAULT 0,
    is_key        INTEGER NOT NULL DEFAULT 0,
    restricted    INTEGER NOT NULL DEFAULT 0,
    visible_roles TEXT NOT NULL DEFAULT '[]',
    department_id INTEGER REFERENCES departments(id),
    groups        TEXT NOT NULL DEFAULT '[]',
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE ind_follows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL,
    target_code TEXT NOT NULL,
    region_code TEXT NOT NULL,
    yellow      REAL,
    red         REAL,
    last_light  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, kind, target_code, region_code)
);
CREATE INDEX ind_follows_target ON ind_follows(kind, target_code);

CREATE TABLE ind_comments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    target        TEXT NOT NULL,
    period        TEXT,
    region_code   TEXT,
    parent_id     INTEGER REFERENCES ind_comments(id),
    author_id     INTEGER NOT NULL REFERENCES users(id),
    author_region TEXT NOT NULL,
    author_dept   INTEGER,
    scope         TEXT NOT NULL,
    content       TEXT NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX ind_comments_target ON ind_comments(target, id);

CREATE TABLE ind_instructions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    target        TEXT NOT NULL,
    target_label  TEXT NOT NULL,
    context       TEXT NOT NULL DEFAULT '{}',
    content       TEXT NOT NULL,
    author_id     INTEGER NOT NULL REFERENCES users(id),
    author_region TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    deadline      TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    closed_at     INTEGER
);
CREATE INDEX ind_instructions_dept ON ind_instructions(department_id, id);
CREATE INDEX ind_instructions_author ON ind_instructions(author_id, id);

CREATE TABLE ind_instruction_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    instruction_id INTEGER NOT NULL REFERENCES ind_instructions(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    actor_id       INTEGER NOT NULL REFERENCES users(id),
    content        TEXT NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX ind_instruction_log_inst ON ind_instruction_log(instruction_id, id);
