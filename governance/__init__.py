"""Lineage Ledger: Django project package and the governance domain (accounts, audit, approvals, archive).

Nothing is imported here: the offline verifiers under this package must run with the standard library alone.
The Celery app is loaded when Django starts (governance.accounts.apps) and by `celery -A governance.celery`.
"""
