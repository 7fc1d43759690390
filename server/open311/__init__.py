"""Open311 GeoReport v2 at ``/open311/v2``: the taxonomy as services, requests that become cases."""
