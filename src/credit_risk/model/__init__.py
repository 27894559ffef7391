"""The portable PD model, shared by training and serving: exported from Spark when a model is fitted
(`export`), replayed with numpy wherever it scores (`portable`, `scoring`), logged and registered as a
JVM-free MLflow pyfunc (`pyfunc_model`, `pyfunc_code`), loaded from the registry (`champion`)."""
