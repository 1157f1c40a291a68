-- Map layers (图层), their features (要素) and administrative boundaries (行政区划边界).
-- Geometry is GeoJSON text in canonical WGS-84 lon/lat; the bounding box and the anchor point are
-- kept as columns for filtering and for rebuilding the in-memory indexes.
CREATE TABLE map_layers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    geometry_type TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    attr_schema   TEXT NOT NULL DEFAULT '[]',
    style         TEXT NOT NULL DEFAULT '{}',
    region_code   TEXT NOT NULL REFERENCES regions(code),
    department_id INTEGER REFERENCES departments(id),
    visible_roles TEXT NOT NULL DEFAULT '[]',
    is_demo       INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE map_features (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    layer_id    INTEGER NOT NULL REFERENCES map_layers(id) ON DELETE CASCADE,
    region_code TEXT NOT NULL REFERENCES regions(code),
    name        TEXT NOT NULL DEFAULT '',
    props       TEXT NOT NULL DEFAULT '{}',
    geometry    TEXT NOT NULL,
    min_x       REAL NOT NULL,
    min_y       REAL NOT NULL,
    max_x       REAL NOT NULL,
    max_y       REAL NOT NULL,
    anchor_x    REAL NOT NULL,
    anchor_y    REAL NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    is_demo     INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX map_features_layer_region ON map_features(layer_id, region_code, id);

CREATE TABLE region_boundaries (
    region_code TEXT PRIMARY KEY REFERENCES regions(code),
    geometry    TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
