"""The original design's steps (`python -m src.agents.<step>`): doors into the bundle job's own tasks.

Each step runs the matching task(s) of the `credit_risk_pipeline` job on the local target through
`credit_risk.local.runner.LocalJobRunner`, so the same notebooks, functions, tables and MLflow runs as
`credit-risk bundle run`; nothing here is a second implementation. See AGENTS.md.
"""
