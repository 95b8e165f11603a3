"""The rules, shipped inside the package as diagnoser._rules (a regular package, so a plain install finds its files)."""
