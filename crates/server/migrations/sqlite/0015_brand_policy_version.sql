-- The version of each brand's policy last recorded in a `policy.changed` event: the instance that
-- first starts with a different policy moves it, conditionally, and records the change once.
ALTER TABLE brands ADD COLUMN policy_version TEXT;
