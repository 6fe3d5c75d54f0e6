"""Energy networks E(a, s, t) and their non-conservative (direct score) twins.

    net = make_network(config.model, schedule)     # efjax.networks.factory
    variables = net.init(key, actions, obs, t)

energy_net: the EnergyNet module; factory: config -> network; layers, conv, unet,
mlp, spectral_norm: the building blocks.
"""
from efjax.networks.conv import Conv1D
from efjax.networks.energy_net import EnergyNet
from efjax.networks.factory import (ACTIVATIONS, BACKBONES, COMPUTE_DTYPES, PARAMETERIZATIONS,
                                    PRECONDITIONINGS, count_params, default_model_config,
                                    make_network, min_action_horizon_multiple,
                                    validate_model_config)
from efjax.networks.layers import MLP, Linear, TimeEmbedding
from efjax.networks.mlp import MLPBackbone
from efjax.networks.spectral_norm import COLLECTION as SPECTRAL, SpectralLinear, power_iteration
from efjax.networks.unet import TemporalUNet

__all__ = [
    "ACTIVATIONS", "BACKBONES", "COMPUTE_DTYPES", "Conv1D", "EnergyNet", "Linear", "MLP",
    "MLPBackbone", "PARAMETERIZATIONS", "PRECONDITIONINGS", "SPECTRAL", "SpectralLinear",
    "TemporalUNet", "TimeEmbedding", "count_params", "default_model_config", "make_network",
    "min_action_horizon_multiple", "power_iteration", "validate_model_config",
]
