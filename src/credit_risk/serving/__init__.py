"""The scoring service: FastAPI app (settings, middleware, routes), model store, inference log, endpoint."""
