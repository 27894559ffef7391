"""A synthetic LendingClub export: the embedded default data set, with the quirks of the real files."""
