"""The runtime: how the core runs in a Kedro project. The worker pool and Dask, the parsed
feature_extraction settings and fingerprints, provenance, MLflow tracking, the console and run
summary, error presentation, paths and the project's hooks. Imports the core, never a
pipeline."""
