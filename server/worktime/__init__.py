"""Working time: the calendar of working days and periods that case deadlines count in."""
