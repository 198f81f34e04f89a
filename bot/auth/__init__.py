"""Who may do what in the admin page and API: accounts with roles, sign-in sessions with CSRF protection, API
tokens, the audit log of every admin action, and the signed identity a site's widget passes.

    passwords.py     argon2 password hashes, random passwords and tokens
    roles.py         the roles and the one table of which role each admin route needs
    principal.py     who a request is (KB_ADMIN_TOKEN, an API token, a session cookie) and the role check
    sessions.py      signing in and out: the cookie, the CSRF token, lockout and rate limit
    accounts.py      creating and changing accounts and tokens (the admin API and `kb user` share it)
    first_admin.py   the admin account made at the first start, its password printed once
    audit.py         every admin write recorded, append-only
    widget_token.py  a site's signed widget token verified: who is asking
    site_directory.py  the registered sites, cached: the origins allowed to call the API (CORS) and their secrets
"""
