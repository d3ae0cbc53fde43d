"""The learner: per-component double-Q TD learning for every VDN / QMIX / QTRAN variant.

One training step on a batch of episodes (``b`` episodes, ``T`` steps, ``N`` agents,
``K`` = 1 for vanilla learners on the summed reward, else the C reward components):

1. unroll the online and target agent networks over the episodes -> ``Q_i,k(tau, .)``;
2. double Q: ``u* = argmax_u sum_k Q_i,k(tau', u)`` from the *online* network at t+1
   (greedy on the summed utilities, eqs. 24 / Algorithms 1-2 line 16);
3. VDN / QMIX: ``y_k = r_k + gamma * Q^-_tot,k(s', u*)`` (or TD(lambda) returns),
   ``L_k = mean (Q_tot,k(s, u) - y_k)^2``; IQL (no mixer): the same per agent,
   ``y_i,k = r_k + gamma * Q^-_i,k(o'_i, u*_i)``, ``L_k`` averaged over the agents;
   QTRAN: ``L_k = L_td,k + lambda_opt L_opt,k + lambda_nopt L_nopt,k`` (eq. 27);
4. ``L = (1/K) sum_k L_k`` (eq. 24), or ``(1/K) sum_k w_k l_k L_k`` for MHA (Algorithm 3);
5. Adam step with gradient-norm clipping; hard or soft target updates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from xr_codec_marl.core.spaces import describe
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.adaptive import AdaptiveWeights
from xr_codec_marl.learners.agents import build_agent
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.mixers import NoMixer, QTranCritics, build_mixer
from xr_codec_marl.learners.registry import AlgoSpec


@dataclass(frozen=True)
class Dims:
    """Sizes a learner is built for (taken from an ``EnvSpec``)."""

    n_agents: int
    obs_size: int
    n_actions: int
    state_size: int
    n_rewards: int  # reward components the environment emits

    @classmethod
    def from_spec(cls, spec: Any) -> Dims:
        """The sizes of ``spec``; ``UsageError`` unless every action space is discrete (value
        learners pick among a finite set of actions)."""
        require_discrete(spec)
        return cls(spec.n_agents, spec.obs_size, spec.n_actions, spec.state_size, spec.n_components)


def require_discrete(spec: Any) -> None:
    """``UsageError`` naming the first agent whose action space is not discrete."""
    for agent in spec.agents:
        if not agent.space.is_discrete:
            raise UsageError(
                f"value learners need discrete action spaces; agent {agent.agent_id} of "
                f"{spec.name} has {describe(agent.space)} (use a policy-gradient learner)")


# ----------------------------------------------------------------------------- pure maths


def masked_greedy(q: torch.Tensor, avail: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """argmax_u sum_k weights_k Q_k(u) over available actions: ``q [..., K, A]`` -> ``[...]``."""
    total = q.sum(dim=-2) if weights is None else (q * weights[:, None]).sum(dim=-2)
    return total.masked_fill(~avail, float("-inf")).argmax(dim=-1)


def td_targets(
    rewards: torch.Tensor, terminated: torch.Tensor, filled: torch.Tensor, next_values: torch.Tensor,
    gamma: float, td_lambda: float = 0.0,
) -> torch.Tensor:
    """Per-component targets ``[b, T, K]``.

    ``next_values[:, t]`` is the target value of the state after step t. With ``td_lambda = 0``
    this is ``r + gamma (1 - terminated) V'``; otherwise the lambda-return
    ``G_t = r_t + gamma (1 - d_t) [(1 - lambda) V'_t + lambda G_{t+1}]``, where ``G_{t+1}`` is
    replaced by ``V'_t`` at the last filled step (the episode's bootstrap).
    """
    not_term = 1.0 - terminated.to(rewards.dtype).unsqueeze(-1)
    if td_lambda == 0.0:
        return rewards + gamma * not_term * next_values
    out = torch.zeros_like(rewards)
    steps = rewards.shape[1]
    for t in reversed(range(steps)):
        if t + 1 < steps:
            has_next = filled[:, t + 1].unsqueeze(-1)
            later = torch.where(has_next, out[:, t + 1], next_values[:, t])
        else:
            later = next_values[:, t]
        boot = (1.0 - td_lambda) * next_values[:, t] + td_lambda * later
        out[:, t] = rewards[:, t] + gamma * not_term[:, t] * boot
    return out


def masked_mse(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``err**2`` over filled steps, per component: ``[b, T, K]`` -> ``[K]``."""
    m = mask.to(err.dtype).unsqueeze(-1)
    return ((err * m) ** 2).sum(dim=(0, 1)) / m.sum().clamp_min(1.0)


def qtran_losses(
    q_jt: torch.Tensor, y: torch.Tensor, chosen_sum: torch.Tensor, greedy_sum: torch.Tensor,
    q_jt_greedy: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """QTRAN-base losses per component (Son et al. 2019; pymarl's qtran_base), each ``[K]``.

    - ``td   = mean (Q_jt(s, u) - y)^2``
    - ``opt  = mean (sum_i Q_i(u_bar) - Q_jt(s, u_bar) + V(s))^2`` (Q_jt held fixed)
    - ``nopt = mean min(0, sum_i Q_i(u) - Q_jt(s, u) + V(s))^2`` (Q_jt held fixed)
    All inputs ``[b, T, K]``; ``u_bar`` is the greedy joint action of the individual utilities.
    """
    return {
        "td": masked_mse(q_jt - y.detach(), mask),
        "opt": masked_mse(greedy_sum - q_jt_greedy.detach() + v, mask),
        "nopt": masked_mse((chosen_sum - q_jt.detach() + v).clamp(max=0.0), mask),
    }


def agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor | None, n_actions: int) -> torch.Tensor:
    """``[..., N, O]`` obs + last action one-hot (zeros when none) + agent id one-hot."""
    *lead, n, _ = obs.shape
    last = (
        torch.zeros(*lead, n, n_actions)
        if last_actions is None
        else F.one_hot(last_actions, n_actions).to(obs.dtype)
    )
    ids = torch.eye(n).expand(*lead, n, n)
    return torch.cat([obs, last, ids], dim=-1)


# ----------------------------------------------------------------------------- the learner


class Learner:
    """Networks, optimiser and the training step of one of the twelve learners."""

    def __init__(self, algo: AlgoSpec, cfg: LearnerConfig, dims: Dims) -> None:
        self.algo, self.cfg, self.dims = algo, cfg, dims
        self.n_q = dims.n_rewards if algo.decomposed else 1
        input_size = dims.obs_size + dims.n_actions + dims.n_agents
        self.agent = build_agent(
            algo.structure, input_size, dims.n_actions, self.n_q, cfg.rnn_hidden, cfg.head_hidden
        )
        self.mixer = build_mixer(
            algo.mixer, algo.structure, dims.n_agents, dims.n_actions, dims.state_size, self.n_q,
            cfg.mixer_embed, cfg.hypernet_hidden, cfg.qtran_hidden,
        )
        self.target_agent = copy.deepcopy(self.agent).requires_grad_(False)
        self.target_mixer = copy.deepcopy(self.mixer).requires_grad_(False)
        self.params = list(self.agent.parameters()) + list(self.mixer.parameters())
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr, eps=cfg.adam_eps)
        self.adaptive = (
            AdaptiveWeights(self.n_q, cfg.gradnorm_alpha, cfg.weights_lr, cfg.importance == "variance")
            if algo.adaptive
            else None
        )
        self.train_steps = 0

    # --- acting ---
    def action_weights(self) -> torch.Tensor | None:
        """Component weights for greedy action selection (l_c for MHA if enabled, else plain sum)."""
        if self.adaptive is not None and self.cfg.importance_in_action:
            return self.adaptive.l
        return None

    def unroll(self, agent: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Agent utilities over whole episodes: ``[b, T+1, N, K, A]``."""
        obs, actions = batch["obs"], batch["actions"]
        b, t1, n, _ = obs.shape
        last = torch.cat([torch.zeros_like(actions[:, :1]), actions], dim=1)  # action before t
        x = agent_inputs(obs, last, self.dims.n_actions)
        x[:, 0, :, self.dims.obs_size : self.dims.obs_size + self.dims.n_actions] = 0.0
        e = agent.embed(x)  # [b, T+1, N, slots, H]: feed-forward part on all steps at once
        h = agent.init_hidden(b * n)
        hs = []
        for t in range(t1):  # only the recurrence runs step by step
            h = agent.recur(e[:, t].reshape(b * n, *e.shape[3:]), h)
            hs.append(h.view(b, n, *h.shape[1:]))
        return agent.head(torch.stack(hs, dim=1))

    # --- learning ---
    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-component losses ``[K]`` (with graph) and extra per-component terms for logging."""
        cfg = self.cfg
        actions, avail, state = batch["actions"], batch["avail"], batch["state"]
        b, steps, n = actions.shape
        mask = batch["filled"]
        rewards = batch["rewards"] if self.algo.decomposed else batch["rewards"].sum(-1, keepdim=True)
        q = self.unroll(self.agent, batch)  # [b, T+1, N, K, A]
        with torch.no_grad():
            tq = self.unroll(self.target_agent, batch)
        k = q.shape[-2]

        def pick(values: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:  # [.., N, K, A] -> [.., N, K]
            return values.gather(-1, acts[..., None, None].expand(*acts.shape, k, 1)).squeeze(-1)

        weights = self.action_weights()
        chosen = pick(q[:, :steps], actions)  # [b, T, N, K]
        with torch.no_grad():
            source = q[:, 1:] if cfg.double_q else tq[:, 1:]
            u_star = masked_greedy(source.detach(), avail[:, 1:], weights)  # [b, T, N]
        flat_s = state[:, :steps].reshape(b * steps, -1)
        flat_s_next = state[:, 1:].reshape(b * steps, -1)

        if isinstance(self.mixer, QTranCritics):
            assert isinstance(self.target_mixer, QTranCritics)
            with torch.no_grad():
                u_bar = masked_greedy(q[:, :steps].detach(), avail[:, :steps], weights)
                next_jt = self.target_mixer.q_joint(flat_s_next, u_star.reshape(b * steps, n))
                y = td_targets(rewards, batch["terminated"], mask, next_jt.view(b, steps, k),
                               cfg.gamma, cfg.td_lambda)
            q_jt = self.mixer.q_joint(flat_s, actions.reshape(b * steps, n)).view(b, steps, k)
            q_jt_bar = self.mixer.q_joint(flat_s, u_bar.reshape(b * steps, n)).view(b, steps, k)
            v = self.mixer.v(flat_s).view(b, steps, k)
            parts = qtran_losses(
                q_jt, y, chosen.sum(dim=2), pick(q[:, :steps], u_bar).sum(dim=2), q_jt_bar, v, mask
            )
            per_c = parts["td"] + cfg.lambda_opt * parts["opt"] + cfg.lambda_nopt * parts["nopt"]
            return per_c, parts

        if isinstance(self.mixer, NoMixer):  # IQL: agents folded into the component axis
            with torch.no_grad():
                t_next = pick(tq[:, 1:], u_star).reshape(b, steps, n * k)
                r_agents = rewards[:, :, None, :].expand(b, steps, n, k).reshape(b, steps, n * k)
                y = td_targets(r_agents, batch["terminated"], mask, t_next, cfg.gamma,
                               cfg.td_lambda)
            q_i = chosen.reshape(b, steps, n * k)
            per_agent = masked_mse(q_i - y, mask).view(n, k)
            mean_q = (q_i.detach() * mask[..., None]).sum((0, 1)) / mask.sum().clamp_min(1)
            return per_agent.mean(0), {"q_i": mean_q.view(n, k).mean(0)}
        q_tot = self.mixer(chosen.reshape(b * steps, n, k).transpose(1, 2), flat_s).view(b, steps, k)
        with torch.no_grad():
            t_chosen = pick(tq[:, 1:], u_star)
            t_tot = self.target_mixer(t_chosen.reshape(b * steps, n, k).transpose(1, 2), flat_s_next)
            y = td_targets(rewards, batch["terminated"], mask, t_tot.view(b, steps, k),
                           cfg.gamma, cfg.td_lambda)
        return masked_mse(q_tot - y, mask), {"q_tot": (q_tot.detach() * mask[..., None]).sum((0, 1)) / mask.sum().clamp_min(1)}

    def train(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step; returns losses (per component), grad norm and MHA weights."""
        per_c, parts = self.losses(batch)
        scale = self.adaptive.loss_scale() if self.adaptive is not None else torch.ones(self.n_q)
        loss = (scale * per_c).sum() / self.n_q
        stats: dict[str, Any] = {}
        if self.adaptive is not None:
            stats.update(self.adaptive.step(per_c, self.agent.shared_parameters()))
        self.opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.opt.step()
        self.train_steps += 1
        self._update_targets()
        stats.update(
            loss=float(loss.detach()),
            losses=per_c.detach().tolist(),
            grad_norm=float(grad_norm),
            **{f"loss_{name}": v.detach().tolist() for name, v in parts.items()},
        )
        return stats

    def _update_targets(self) -> None:
        if self.cfg.target_update == "soft":
            tau = self.cfg.tau
            with torch.no_grad():
                for src, dst in ((self.agent, self.target_agent), (self.mixer, self.target_mixer)):
                    for p, tp in zip(src.parameters(), dst.parameters()):
                        tp.mul_(1.0 - tau).add_(p, alpha=tau)
        elif self.train_steps % self.cfg.target_update_interval == 0:
            self.target_agent.load_state_dict(self.agent.state_dict())
            self.target_mixer.load_state_dict(self.mixer.state_dict())

    # --- checkpointing ---
    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(),
            "mixer": self.mixer.state_dict(),
            "target_agent": self.target_agent.state_dict(),
            "target_mixer": self.target_mixer.state_dict(),
            "opt": self.opt.state_dict(),
            "adaptive": None if self.adaptive is None else self.adaptive.state_dict(),
            "train_steps": self.train_steps,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.agent.load_state_dict(sd["agent"])
        self.mixer.load_state_dict(sd["mixer"])
        self.target_agent.load_state_dict(sd["target_agent"])
        self.target_mixer.load_state_dict(sd["target_mixer"])
        self.opt.load_state_dict(sd["opt"])
        if self.adaptive is not None and sd["adaptive"] is not None:
            self.adaptive.load_state_dict(sd["adaptive"])
        self.train_steps = int(sd["train_steps"])

    def load_pretrained(self, sd: dict[str, Any], optimiser: bool = True) -> None:
        """Start from another run's learner state (fine-tuning): its networks, target networks
        and MHA weights, and its optimiser state if ``optimiser``, but this run's learning
        rates (``lr``, ``adam_eps`` from this config) and ``train_steps`` = 0."""
        self.agent.load_state_dict(sd["agent"])
        self.mixer.load_state_dict(sd["mixer"])
        self.target_agent.load_state_dict(sd["target_agent"])
        self.target_mixer.load_state_dict(sd["target_mixer"])
        if optimiser:
            self.opt.load_state_dict(sd["opt"])
            for group in self.opt.param_groups:  # load_state_dict restored the source's values
                group["lr"], group["eps"] = self.cfg.lr, self.cfg.adam_eps
        if self.adaptive is not None and sd["adaptive"] is not None:
            self.adaptive.load_state_dict(sd["adaptive"])
        self.train_steps = 0


class AgentController:
    """Runs the agent network one window at a time for acting (keeps the recurrent state)."""

    def __init__(self, agent: torch.nn.Module, n_agents: int, n_actions: int) -> None:
        self.agent, self.n_agents, self.n_actions = agent, n_agents, n_actions
        self.h: torch.Tensor | None = None

    def reset(self, num_envs: int) -> None:
        self.h = self.agent.init_hidden(num_envs * self.n_agents)

    @torch.no_grad()
    def q_values(self, obs: np.ndarray, last_actions: np.ndarray | None) -> torch.Tensor:
        """``obs [B, N, O]``, previous joint action (None at an episode's start) -> ``[B, N, K, A]``."""
        o = torch.as_tensor(obs, dtype=torch.float32)
        b = o.shape[0]
        last = None if last_actions is None else torch.as_tensor(last_actions, dtype=torch.int64)
        x = agent_inputs(o, last, self.n_actions).reshape(b * self.n_agents, -1)
        assert self.h is not None, "call reset() first"
        q, self.h = self.agent(x, self.h)
        return q.view(b, self.n_agents, *q.shape[1:])


def epsilon_greedy(
    q: torch.Tensor, avail: np.ndarray, epsilon: float, rng: np.random.Generator,
    weights: torch.Tensor | None = None,
) -> np.ndarray:
    """Greedy on the (weighted) component sum with prob 1-eps, else uniform over available actions."""
    av = torch.as_tensor(avail, dtype=torch.bool)
    greedy = masked_greedy(q, av, weights).numpy()
    if epsilon <= 0.0:
        return greedy
    random = (rng.random(avail.shape) * avail).argmax(axis=-1)  # uniform among available
    explore = rng.random(greedy.shape) < epsilon
    return np.where(explore, random, greedy).astype(np.int64)


def epsilon_at(step: int, cfg: LearnerConfig, finetune: bool = False) -> float:
    """Linear schedule from ``epsilon_start`` to ``epsilon_finish`` over ``epsilon_anneal_steps``.

    A fine-tuning run (``finetune``: its networks come from another run) starts at
    ``finetune_epsilon_start`` instead and anneals over ``finetune_epsilon_anneal_steps``:
    restarting at epsilon 1 would throw away the pre-trained policy's behaviour.
    """
    start, steps = cfg.epsilon_start, cfg.epsilon_anneal_steps
    if finetune:
        start, steps = cfg.finetune_epsilon_start, cfg.finetune_epsilon_anneal_steps
    if steps <= 0:
        return cfg.epsilon_finish
    frac = min(1.0, step / steps)
    return start + frac * (cfg.epsilon_finish - start)
