"""The Plotly Dash dashboard, served by the same Django process under /dashboard/."""
