"""Lineage Ledger: Django project package and the governance domain (accounts, audit, approvals, archive)."""
