"""Shared fixtures come from notewell.testing (the pytest11 entry point)."""
