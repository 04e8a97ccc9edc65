"""The three tiers: VM monitors, network slice managers and the network controller."""
