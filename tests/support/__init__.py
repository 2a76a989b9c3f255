"""What both tiers import: fakes, local servers, conformance suites, accounts, rows and events."""
