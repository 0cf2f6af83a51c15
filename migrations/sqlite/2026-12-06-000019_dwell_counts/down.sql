DROP TABLE dwell_counts;
