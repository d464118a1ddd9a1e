"""SAC's networks from its flat config: the value head, the tanh-Gaussian actor and the critic
ensemble, each built from the options its variant keys choose (rlscale.agents.variants)."""

from __future__ import annotations

from typing import Any

from rlscale.agents.variants import CRITIC_NET, NAP, VALUE_LOSS
from rlscale.losses.value import make_value_head
from rlscale.nets.bodies import LOG_STD_OUTPUTS, make_body
from rlscale.nets.mlp import Critic, make_ensemble
from rlscale.nets.policy import TanhGaussianActor
from rlscale.nets.simbav2 import project_hyper_dense


def make_networks(config: Any) -> tuple[Any, Any, Any]:
    """(value head, actor module, ensemble critic module) named by `config` (a SACConfig)."""
    loss, net, nap = VALUE_LOSS.build(config), CRITIC_NET.build(config), NAP.build(config)
    head = make_value_head(config.value_loss, **loss.head_options())
    actor_torso, actor_out = make_body(
        config.actor_net,
        config.actor_width,
        config.actor_depth,
        **nap.normalised(config.actor_net, {}),
    )
    log_std_out = LOG_STD_OUTPUTS.get(config.actor_net)
    actor = TanhGaussianActor(
        actor_torso, config.action_size, actor_out, config.actor_log_std, log_std_out
    )
    critic_torso, critic_out = make_body(
        config.critic_net,
        config.critic_width,
        config.critic_depth,
        **nap.normalised(config.critic_net, net.body_options()),
    )
    critic = make_ensemble(Critic, config.n_critics)(
        critic_torso, head.n_outputs, critic_out, head.n_detached
    )
    return head, actor, critic


def projector(net: str):
    """SimbaV2 projects its hyper_dense kernels after init and after every optimiser step."""
    return project_hyper_dense if net == "simbav2" else (lambda params: params)
