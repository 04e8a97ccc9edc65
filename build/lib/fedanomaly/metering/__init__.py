"""Bytes, messages, time and memory of each tier, counted where things are sent or held."""
