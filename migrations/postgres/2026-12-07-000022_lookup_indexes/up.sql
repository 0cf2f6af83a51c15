-- Lookups the file view makes on every read, which scanned whole tables
-- (found by a profile of `bench load` at scale 0.05, where the file view
-- was half the server's CPU): the letters put up in a file, and the links
-- that point at a file from another one (`file_id` is already the first
-- column of the links' unique key; the OR of the two needs both).
CREATE INDEX receipts_file ON receipts(file_id);
CREATE INDEX file_links_other ON file_links(other_file_id);
