"""Where step outputs live: in memory for a single process, or on any fsspec filesystem."""
