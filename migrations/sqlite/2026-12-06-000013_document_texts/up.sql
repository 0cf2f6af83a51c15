-- The text taken out of each attached document for search (PDFs with a text
-- layer; scans and other kinds have none), once, by a job with size, page
-- and time limits. `status`: extracted, no_text, too_large, unreadable,
-- timed_out.
CREATE TABLE document_texts (
    document_id  TEXT PRIMARY KEY NOT NULL REFERENCES documents(id),
    status       TEXT NOT NULL,
    text         TEXT NOT NULL,
    extracted_at BIGINT NOT NULL
);
