"""The rate-limit plugin: moving-window limits per user, API key and client address."""
