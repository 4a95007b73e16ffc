"""The connector settings that point a Kubeflow harvest at the fake KFP API and the generated ML Metadata store
of tests/kubeflow/conftest.py's fixtures."""


def settings_for(server, source, **extra):
    """Small pages on both sides, so every harvest crosses several page boundaries."""
    return {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "instance": "test", "api_page_size": 2,
            "mlmd_page_size": 4, **extra}
