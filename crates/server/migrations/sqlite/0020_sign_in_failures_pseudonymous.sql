-- Failed sign-ins are kept under a keyed reference of the typed username (which may be a
-- password typed in the wrong field) and the client's network, not the address: the rows kept so
-- far held both in clear, and they only matter for a quarter of an hour.
DELETE FROM admin_login_failures;
