-- The note an analyst wrote with a review decision. Free text that may name people: kept with the
-- verification (erasable with it), not in the permanent event log, whose event says only that
-- there was a note.
ALTER TABLE verifications ADD COLUMN review_note TEXT;
