"""What users do with runs (launch, re-execute, terminate) and what keeps runs honest (worker, monitor)."""
