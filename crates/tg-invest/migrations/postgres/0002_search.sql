-- Keyword search through an index of character pairs (see tg-invest src/search.rs).
ALTER TABLE inv_projects ADD COLUMN search_grams TEXT NOT NULL DEFAULT '';
CREATE INDEX inv_projects_grams ON inv_projects USING gin (to_tsvector('simple', search_grams)) WHERE deleted_at IS NULL;
