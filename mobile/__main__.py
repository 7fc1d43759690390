"""``python -m mobile``: the inspectors' app on the desktop (see mobile/main.py)."""

from mobile.main import main

main()
