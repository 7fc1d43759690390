"""Vector tiles (Mapbox Vector Tile) built by PostGIS: the current grids, and the cases a user may see."""
