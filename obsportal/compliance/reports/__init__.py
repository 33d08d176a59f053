"""Compliance reports: a framework is a spec of sections (reports/soc2.py, gdpr.py, hipaa.py,
ai_act.py), a run computes each section's populations with the portal's own selectors,
proves the chain coverage of the period, draws a seeded sample and signs the whole."""
