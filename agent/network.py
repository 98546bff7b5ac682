"""Q-networks: the Nature DQN CNN for stacked frames and an MLP for vector states, each with
an optional dueling head. Pixel networks take ``uint8`` frames and scale them inside, so
replay batches stay 4x smaller all the way to the device."""

from __future__ import annotations

import torch
from torch import nn

from agent.config import DQNConfig


class QHead(nn.Module):
    """Maps features to one Q-value per action; dueling splits value and advantages."""

    def __init__(self, in_features: int, hidden_size: int, num_actions: int, dueling: bool) -> None:
        super().__init__()
        self.dueling = dueling
        self.advantage = nn.Sequential(
            nn.Linear(in_features, hidden_size), nn.ReLU(), nn.Linear(hidden_size, num_actions)
        )
        if dueling:
            self.value = nn.Sequential(nn.Linear(in_features, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(features)
        if not self.dueling:
            return advantage
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)


# Channels-last (NHWC) input makes the convolutions faster on the CPU (docs/benchmarks.md) and
# is the layout cuDNN prefers. Not on Apple MPS, whose convolutions have had silent
# memory-format bugs, and which we cannot test here.
CHANNELS_LAST_DEVICES = ("cpu", "cuda")
# On CUDA the convolution weights are channels-last too, so that cuDNN need not convert them at
# every call (PyTorch's advice for channels-last models); on the CPU it makes no difference
# beyond noise (docs/benchmarks.md), and they stay as they are.
CHANNELS_LAST_WEIGHTS_DEVICES = ("cuda",)


def place_network(network: nn.Module, device: torch.device, *, channels_last_weights: bool | None = None) -> nn.Module:
    """``network`` on ``device``, its 4-d weights channels-last where ``channels_last_weights``
    (default: on the devices of ``CHANNELS_LAST_WEIGHTS_DEVICES``). The layout changes the
    strides only: the values, the state dict and checkpoints are the same."""
    network = network.to(device)
    if channels_last_weights is None:
        channels_last_weights = device.type in CHANNELS_LAST_WEIGHTS_DEVICES
    if channels_last_weights:
        network = network.to(memory_format=torch.channels_last)
    return network


class NatureCNN(nn.Module):
    """Mnih et al. (2015): 32 8x8/4, 64 4x4/2, 64 3x3/1 convs, 512 units, one output per action."""

    def __init__(
        self,
        in_channels: int,
        num_actions: int,
        *,
        channels: tuple[int, int, int] = (32, 64, 64),
        hidden_size: int = 512,
        dueling: bool = False,
        screen_size: int = 84,
    ) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(channels[0], channels[1], kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(channels[1], channels[2], kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat_size = self.convs(torch.zeros(1, in_channels, screen_size, screen_size)).shape[1]
        self.head = QHead(flat_size, hidden_size, num_actions, dueling)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        pixels = frames.float() / 255.0
        if frames.device.type in CHANNELS_LAST_DEVICES:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        return self.head(self.convs(pixels))


class MLP(nn.Module):
    """Fully connected Q-network for vector states (CartPole)."""

    def __init__(
        self, input_size: int, num_actions: int, *, hidden_sizes: tuple[int, ...] = (128, 128), dueling: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = input_size
        for width in hidden_sizes[:-1]:
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        self.body = nn.Sequential(*layers)
        self.head = QHead(size, hidden_sizes[-1], num_actions, dueling)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(states.float()))


def build_q_network(config: DQNConfig, observation_shape: tuple[int, ...], num_actions: int) -> nn.Module:
    """The network the config names, sized for the observation and action count."""
    if config.network == "nature_cnn":
        if len(observation_shape) != 3:
            raise ValueError(
                f"nature_cnn needs stacked frames (C, H, W), got observations of shape {observation_shape}; "
                "use network=mlp"
            )
        return NatureCNN(
            observation_shape[0],
            num_actions,
            channels=config.cnn_channels,
            hidden_size=config.hidden_size,
            dueling=config.dueling,
            screen_size=observation_shape[-1],
        )
    if config.network == "mlp":
        if len(observation_shape) != 1:
            raise ValueError(f"mlp needs vector observations, got shape {observation_shape}; use network=nature_cnn")
        return MLP(observation_shape[0], num_actions, hidden_sizes=config.mlp_hidden_sizes, dueling=config.dueling)
    raise ValueError(f"unknown network {config.network!r}; choose nature_cnn or mlp")


def resolve_device(name: str) -> torch.device:
    """The device ``name`` means here, checked: ``auto`` picks CUDA, then Apple MPS, then the
    CPU; ``cuda`` is the current CUDA device and ``cuda:N`` must exist. A CUDA device comes
    back with its index, so that whatever runs on it can make it the current device."""
    mps_available = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if mps_available else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {name!r}; choose auto, cuda, cuda:N, mps or cpu") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
        count = torch.cuda.device_count()
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= count:
            raise ValueError(
                f"device {name!r} asked for, but PyTorch sees {count} CUDA GPU(s) here (cuda:0 to cuda:{count - 1}); "
                "pick one of those, or mind CUDA_VISIBLE_DEVICES"
            )
        return torch.device("cuda", index)
    if device.type == "mps" and not mps_available:
        raise ValueError(f"device {name!r} asked for, but Apple MPS is not available here; use --device cpu or auto")
    if device.type not in ("cpu", "mps"):
        raise ValueError(f"unknown device {name!r}; choose auto, cuda, cuda:N, mps or cpu")
    return device


def network_from_checkpoint(state: dict, device: torch.device) -> nn.Module:
    """The trained online network of a loaded checkpoint, in eval mode on ``device``."""
    config = DQNConfig.from_dict(state["config"])
    network = build_q_network(config, tuple(state["observation_shape"]), int(state["num_actions"]))
    network.load_state_dict(state["learner"]["online"])
    return place_network(network, device).eval()
