"""未诉先办 day by day: the day's run of the forecasts, the warnings and the proactive patrol tasks
(``daily``) and the rule that turns warnings and forecasts into tasks (``plan``)."""
