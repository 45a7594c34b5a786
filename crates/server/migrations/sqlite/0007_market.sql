-- Published market figures (yearly, national: context, never a like-for-like rate; values kept as
-- published, in decimal notation), imported with
-- `orderguard market import` and shown with their source.
CREATE TABLE market_reference (
    period TEXT NOT NULL,
    metric TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (period, metric, source)
);
