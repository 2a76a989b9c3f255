"""Connected X/Twitter accounts, below the routes of `api/routes/x.py`: the OAuth 2.0 PKCE
connection, disconnection, and a preview (poll now, summarise the verdicts). Refusals are the
domain errors of `infra.errors`; the API gives them their status."""
