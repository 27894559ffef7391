"""Credit-risk lakehouse: LendingClub PD models from raw exports to monitored serving."""

__version__ = "0.1.0"
