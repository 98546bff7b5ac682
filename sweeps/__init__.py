"""Many runs (games x seeds) of the ordinary trainer, on a local or a cluster Ray."""
