"""The command-center web app: one page served at ``/``, its static files and MapLibre GL JS from npm."""
