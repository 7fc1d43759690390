"""The standard address register (地址库): import, search, reverse geocoding."""
