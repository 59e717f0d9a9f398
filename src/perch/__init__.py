"""Perch: a workflow orchestrator for the human in the loop, speaking Kestra's flow language."""

from __future__ import annotations

__version__ = "0.1.0"
