DROP INDEX notes_drafts;
