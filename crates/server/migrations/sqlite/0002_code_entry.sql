-- Where the customer types the code (shop, hosted, embedded): the SMS binds the code to that origin.
ALTER TABLE verifications ADD COLUMN code_entry TEXT NOT NULL DEFAULT 'shop';
