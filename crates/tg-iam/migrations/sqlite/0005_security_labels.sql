-- Security labels (安全标记): each account has a clearance (as a subject) and a label (as an object:
-- accounts of sensitive posts are hidden from users of lower clearance). 1 公开, 2 内部, 3 敏感.
ALTER TABLE users ADD COLUMN clearance INTEGER NOT NULL DEFAULT 2;
ALTER TABLE users ADD COLUMN label INTEGER NOT NULL DEFAULT 2;
-- Scoped lists filter by region and label together: keep that filter on the index alone.
CREATE INDEX users_region_label ON users(region_code, label);
