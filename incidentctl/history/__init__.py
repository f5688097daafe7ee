"""Incident history: metrics, stats, the monthly report, export, the static site."""
