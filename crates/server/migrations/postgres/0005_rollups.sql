-- Counters per brand, hour and (dimension, value), kept up to date from the event log by the
-- rollup job; rollup_state holds the id of the last event counted.
CREATE TABLE rollups (
    brand TEXT NOT NULL,
    hour BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (brand, hour, dimension, value)
);

CREATE TABLE rollup_state (
    id INTEGER PRIMARY KEY,
    last_event_id BIGINT NOT NULL
);
INSERT INTO rollup_state (id, last_event_id) VALUES (1, 0);
