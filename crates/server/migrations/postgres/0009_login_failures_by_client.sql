-- Failed sign-ins also by the client's address: one address trying many usernames is slowed down
-- too, not only one username tried from many addresses.
ALTER TABLE admin_login_failures ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX admin_login_failures_client_at ON admin_login_failures (client, at);
