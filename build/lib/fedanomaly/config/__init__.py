"""Topology configuration: schema, YAML loading, balanced layouts and command-line overrides."""

from fedanomaly.config.loading import load_topology, parse_source, validate_topology
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import Topology

__all__ = ["Topology", "load_topology", "parse_source", "resolve_topology", "validate_topology"]
