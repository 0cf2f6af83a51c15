-- Each PIN attempt is counted (signing_keys.pin_failures) before the PIN is
-- tried, and reserved here until it is settled. An attempt whose process
-- died (a crash, kill -9) is never settled: once its lease lapses it is
-- released and no longer counts, so crashes do not lock an officer out,
-- while attempts still in flight keep counting against parallel guesses.
CREATE TABLE pin_reservations (
    id          TEXT PRIMARY KEY NOT NULL,
    key_id      TEXT NOT NULL REFERENCES signing_keys(id),
    lease_until BIGINT NOT NULL
);
CREATE INDEX pin_reservations_key ON pin_reservations(key_id, lease_until);
