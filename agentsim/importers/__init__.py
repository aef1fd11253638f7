"""Importers that convert case files from other benchmarks into agentsim scenarios."""

from agentsim.importers.agentclinic import ImportReport, import_agentclinic, write_cases

__all__ = ["ImportReport", "import_agentclinic", "write_cases"]
