"""The live stream of case changes (server-sent events), fed by one LISTEN connection per process."""
