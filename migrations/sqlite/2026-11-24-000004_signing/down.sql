DROP TABLE note_signatures;
DROP TABLE signing_keys;
