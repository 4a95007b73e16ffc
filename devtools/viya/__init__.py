"""The SAS Viya stand-in (tests, demo, bench) and the demo's model repository."""
