"""What the user calls: the pipeline, zooms, comparisons, the experiment registry and the command line."""
