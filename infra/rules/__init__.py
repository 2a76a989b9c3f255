"""The rule language: parsed and checked here (so the API validates what the workers run),
compiled once into plain closures that stream workers evaluate per event (`compile.py`), and
translated into ClickHouse SQL for backtests over stored verdicts (`sql.py`)."""
