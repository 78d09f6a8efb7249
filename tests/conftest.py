"""Shared fixtures: tiny workbooks built in code, so every answer can be checked by hand."""
