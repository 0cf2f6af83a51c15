DROP INDEX file_links_other;
DROP INDEX receipts_file;
