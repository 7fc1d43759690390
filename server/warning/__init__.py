"""Warnings (预警) and their life: raised from detection signals, seen, turned into a reminder letter
(提醒函) to the responsible street or department, acknowledged with a reply, closed with a reason."""
