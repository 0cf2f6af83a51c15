DROP TABLE movement_signatures;
