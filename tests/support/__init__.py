"""Helpers shared by several test modules (servers, scenarios); never imported by product code."""
