"""Helpers both tiers import: fakes, local servers, conformance suites, rows and events."""
