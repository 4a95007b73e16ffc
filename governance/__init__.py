"""Lineage Ledger: Django project package and the governance domain (accounts, audit, approvals, archive)."""
from governance.celery import app as celery_app

__all__ = ("celery_app",)
