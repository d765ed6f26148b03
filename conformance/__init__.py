"""Conformance check: render the operator chart a stack pins and compare it with the plan.

Opt-in (`make conformance`); see `run.py` for the command line.
"""
