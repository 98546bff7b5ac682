"""The training run: the loop over envs, replay and learner, with evaluation, logs and
checkpoints (``train.py`` is its command line)."""
