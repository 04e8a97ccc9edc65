"""Topology configuration: schema, YAML loading and the balanced-topology builder."""

from fedanomaly.config.builder import balanced_topology
from fedanomaly.config.loading import load_topology, parse_source, validate_topology
from fedanomaly.config.schema import Topology

__all__ = ["Topology", "balanced_topology", "load_topology", "parse_source", "validate_topology"]
