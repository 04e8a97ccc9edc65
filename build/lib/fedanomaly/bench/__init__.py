"""``fedanomaly bench``: sweeps of real short simulations, each point checked against the
closed form of its bytes."""
