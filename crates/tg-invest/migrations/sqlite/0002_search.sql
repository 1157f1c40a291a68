-- Keyword search through an index of character pairs (see tg-invest src/search.rs).
ALTER TABLE inv_projects ADD COLUMN search_grams TEXT NOT NULL DEFAULT '';
CREATE VIRTUAL TABLE inv_projects_fts USING fts5(
    search_grams,
    content = 'inv_projects',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0',
    detail = none
);
-- Existing rows enter the index with their (empty) pairs; the service fills the pairs in at start.
INSERT INTO inv_projects_fts(inv_projects_fts) VALUES ('rebuild');
CREATE TRIGGER inv_projects_fts_insert AFTER INSERT ON inv_projects BEGIN
    INSERT INTO inv_projects_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
END;
CREATE TRIGGER inv_projects_fts_delete AFTER DELETE ON inv_projects BEGIN
    INSERT INTO inv_projects_fts(inv_projects_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
END;
CREATE TRIGGER inv_projects_fts_update AFTER UPDATE OF search_grams ON inv_projects BEGIN
    INSERT INTO inv_projects_fts(inv_projects_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
    INSERT INTO inv_projects_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
END;
