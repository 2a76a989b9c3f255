"""Accounts, tenants, API tokens, invitations, usage and audit: who may do what, for whom."""
