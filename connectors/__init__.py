"""Source connectors (Kubeflow, SAS Viya) and the shared harvest machinery.

Each connector is a package behind one small interface (`connectors.base.Connector`): list what changed
since a cursor, as pages of store facts. The store knows nothing of the sources.
"""
