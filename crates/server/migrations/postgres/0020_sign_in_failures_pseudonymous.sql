-- Failed sign-ins are kept under keyed references of the typed username (which may be a password
-- typed in the wrong field) and of the client's address: the rows kept so far held both in clear,
-- and they only matter for a quarter of an hour.
DELETE FROM admin_login_failures;
