"""The chat plugin: conversations as message trees, generation as pipeline runs.

Conversations with branches (regenerate, edit, switch), system prompts and presets,
automatic titles, folders, tags, pins, archive, full-text search, read-only shares,
export and import, and answers that stream from the server's own generation task so
that a closed tab loses nothing. See ``docs/chat.md``.
"""
