"""The engine that runs jobs: plan, step runner, executors, events, results. No Django here."""
