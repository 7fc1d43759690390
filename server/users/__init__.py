"""User administration, above identity (``server.auth``), grids and categories: adding users with their home
grid and department, listing them, setting their passwords; the demo's people."""
