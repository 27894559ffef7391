"""The project's Databricks Asset Bundle, loaded, validated and run offline."""
