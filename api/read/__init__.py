"""Warehouse reads behind the API's routes; every value is a bound parameter."""
