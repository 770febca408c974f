"""/api/openapi.json and /api/docs: how the schemas and views are described to integrators."""
