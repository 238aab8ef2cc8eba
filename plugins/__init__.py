"""Notewell's built-in feature plugins, one sub-package each."""
