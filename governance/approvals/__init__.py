"""Promotion requests, four-eyes approvals, policy gates computed from lineage, stage history."""
