-- Moving a file first asks whether the mover has unsigned drafts on it. With
-- only (file_id, seq) that scans every note of the file, so a long file got
-- slower to move with each note; this answers it from the index alone.
CREATE INDEX notes_drafts ON notes(file_id, status, author_user_id);
