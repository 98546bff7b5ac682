"""The DQN agent: config, networks, replay memory, policy, learner and checkpoints."""
