"""Synthetic sample data for toxdb and its generator (see README.md)."""
