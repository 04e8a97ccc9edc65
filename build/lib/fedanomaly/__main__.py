"""``python -m fedanomaly`` runs the command line."""

from fedanomaly.cli import main

main()
