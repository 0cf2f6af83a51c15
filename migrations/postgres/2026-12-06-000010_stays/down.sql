DROP TABLE stays;
