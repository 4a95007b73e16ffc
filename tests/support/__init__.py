"""Helpers shared by several test modules (servers, scenarios, fixtures): import them from here, never from
another test module; product code never imports them."""
