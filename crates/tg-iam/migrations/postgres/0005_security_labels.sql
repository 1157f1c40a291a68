-- Security labels (安全标记): each account has a clearance (as a subject) and a label (as an object:
-- accounts of sensitive posts are hidden from users of lower clearance). 1 公开, 2 内部, 3 敏感.
ALTER TABLE users ADD COLUMN clearance BIGINT NOT NULL DEFAULT 2;
ALTER TABLE users ADD COLUMN label BIGINT NOT NULL DEFAULT 2;
