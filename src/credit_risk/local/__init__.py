"""What stands in for a Databricks workspace on a laptop: the job runner, the job cluster's shared kernel,
the dbutils shim and a local Spark Connect server."""
