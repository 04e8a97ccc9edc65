"""What a simulation leaves behind: the run directory, its summary and its plots."""
