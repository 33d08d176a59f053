"""What changes retention's state, one job a module: `policies` (four-eyes changes),
`legal_holds`, `plans` (the frozen dry run and its approval) and `runs` (executing a plan).

Every change writes its trail record inside its own transaction (`trail.record_trail`): a
change the trail cannot record does not happen.
"""
