"""Patrol shifts: inspectors clock in and out from the phone app and upload their tracks in batches."""
