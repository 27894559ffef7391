"""The pipeline steps, one module per task of the job `credit_risk_pipeline`, in the order they run."""
