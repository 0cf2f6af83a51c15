-- How long files stayed at each desk, counted as they move on (issue 26):
-- per desk, per UTC hour the stay ended in, per length (to the second under
-- ten minutes, the minute under a day, the hour beyond: domain::analytics::
-- dwell_bucket), how many. The bottleneck analytics read these counters, a
-- few thousand rows per desk a year, instead of every stay.
CREATE TABLE dwell_counts (
    post_id TEXT NOT NULL REFERENCES posts(id),
    hour    BIGINT NOT NULL,
    seconds BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (post_id, hour, seconds)
);

-- The stays that have ended so far, counted by the same rule.
INSERT INTO dwell_counts (post_id, hour, seconds, n)
SELECT post_id, hour, seconds, COUNT(*) FROM (
    SELECT post_id, until_at / 3600000000 AS hour,
           CASE WHEN until_at - from_at < 0 THEN 0
                WHEN until_at - from_at < 600000000 THEN (until_at - from_at) / 1000000
                WHEN until_at - from_at < 86400000000 THEN (until_at - from_at) / 60000000 * 60
                ELSE (until_at - from_at) / 3600000000 * 3600 END AS seconds
    FROM stays WHERE kind = 'file' AND until_at IS NOT NULL
) AS ended
GROUP BY post_id, hour, seconds;
