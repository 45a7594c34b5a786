-- The live monitor reads a brand's newest events and those after an id: by (brand, id). The
-- (brand, at) index served no query.
DROP INDEX events_brand_at;
CREATE INDEX events_brand_id ON events (brand, id);
