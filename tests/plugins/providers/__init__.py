"""Tests of the providers plugin."""
