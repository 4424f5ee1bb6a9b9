"""Test helpers shared by several suites (servers the tests need, found or started once per session)."""
