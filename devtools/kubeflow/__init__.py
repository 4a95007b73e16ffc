"""The KFP API stand-in, the generated Kubeflow demo source and a one-process harvest for tests and bench."""
