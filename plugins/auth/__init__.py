"""The auth plugin: accounts, sessions, API keys, roles, groups, permissions, audit, OIDC."""
