"""The model: experiments, grids, optimizers, problems and the rules that judge a run.

Imports nothing else of edujax."""
