"""Helpers shared by several test files (import them from here, never from another test module)."""
