"""Reward recovery on the bandit family (efjax/envs/bandit.py): tuning and held-out evaluation.

    python -m experiments.bandit_tune --config=experiments/configs/bandit_family.py \
        --workdir=/work/bandit_runs/tune            # candidates x tuning seeds -> raw JSON
    python -m experiments.bandit_family --config=experiments/configs/bandit_family.py \
        --workdir=/work/bandit_runs/family          # settings x held-out seeds -> raw JSON
    python -m experiments.bandit_family --config=experiments/configs/bandit_family.py \
        --report                                    # results/bandit_family.md from raw JSON

Every member is trained through the plain CLI a user runs on a demo file,

    python -m experiments.train --config=<setting's config> --workdir=W \
        --config.data.path=D --config.data.obs_horizon=1 --config.data.action_horizon=1 \
        --config.model.backbone=mlp --config.train.num_steps=24000

and its reward read by `efjax.load(W).reward(obs, actions)` in file units on 64 fresh
states x 64 actions (efjax/envs/bandit_files.py, efjax/reward/bandit_scores.py). `settings` maps
a name to the --config the command uses: `defaults` (demos.py as shipped) and `paper`
(demos.py:paper, the paper's recipe read at t = 1e-3).

Tuning (experiments.bandit_tune) uses the tuning seeds only, in `tune.stages` (seeds x
candidates); each candidate pins the tuned keys (learning rate, noise levels per
sample, preconditioning) and one run per member keeps an EMA per `tune.ema_horizons`
(efjax/train/ema_set.py); each EMA's reward is read at every `tune.readings` entry
(`kind:levels`). Budget: 24k x 256 steps per run, one run per distinct (seed, candidate)
pair of the stages (a pair two stages share runs once). Results: results/bandit_family.md.
"""
import ml_collections

from efjax.envs.bandit import (COLD_TEMPERATURE, FAMILY_RANGES, HELD_OUT_START, family_member,
                               held_out_seeds, tuning_seeds)

# The user's command: only the data path, horizons, backbone and num_steps are given.
USER_FLAGS = ("data.obs_horizon=1", "data.action_horizon=1", "model.backbone=mlp",
              "train.num_steps=24000")


def _candidates() -> dict:
  """name -> `key=value` overrides of demos.py (every tuned key pinned)."""
  def cand(lr, levels, precond):
    return (f"train.learning_rate={lr}", f"train.num_levels={levels}",
            f"model.preconditioning={precond}")
  return {"lr1e-3_k1_none": cand(1e-3, 1, "none"),
          "lr1e-3_k1_edm": cand(1e-3, 1, "edm"),
          "lr1e-3_k4_edm": cand(1e-3, 4, "edm"),
          "lr3e-3_k1_edm": cand(3e-3, 1, "edm"),
          # Stage 5's probes: each lr3e-3_k1_edm plus one change.
          "lr3e-3_k1_edm_seed1": cand(3e-3, 1, "edm") + ("seed=1",),
          "lr3e-3_k1_edm_seed2": cand(3e-3, 1, "edm") + ("seed=2",),
          "lr3e-3_k1_edm_w128": cand(3e-3, 1, "edm") + ("model.mlp.hidden=(128,128,128)",),
          "lr3e-3_k1_edm_w512": cand(3e-3, 1, "edm") + ("model.mlp.hidden=(512,512,512)",),
          "lr3e-3_k1_edm_d4": cand(3e-3, 1, "edm") + ("model.mlp.hidden=(256,256,256,256)",),
          "lr3e-3_k1_edm_silu": cand(3e-3, 1, "edm") + ("model.activation=silu",),
          "lr3e-3_k1_edm_wd1e-2": cand(3e-3, 1, "edm") + ("optim.weight_decay=0.01",),
          "lr3e-3_k1_edm_wd3e-2": cand(3e-3, 1, "edm") + ("optim.weight_decay=0.03",),
          "lr3e-3_k1_edm_wd1e-1": cand(3e-3, 1, "edm") + ("optim.weight_decay=0.1",),
          "lr1e-2_k1_edm": cand(1e-2, 1, "edm"),
          "lr3e-3_k1_edm_nosn": cand(3e-3, 1, "edm") + ("model.spectral_norm=False",),
          # Stage 9: the learning rate's warm-up over 10% of the run instead of 500 steps.
          "lr3e-3_k1_edm_wu10": cand(3e-3, 1, "edm") + ("optim.warmup_steps=2400",),
          # Stage 10: stage 9's pick with weight decay.
          "lr3e-3_k1_edm_wu10_wd1e-2": cand(3e-3, 1, "edm") + ("optim.warmup_steps=2400",
                                                                 "optim.weight_decay=0.01"),
          # The paper's recipe (demos.py:paper) for the studies: its EMA (decay 0.9999, a
          # 10k-step horizon) is the EMA horizon 0.4 of a 24k run, its reading centered:0.001.
          "paper_recipe": cand(1e-4, 1, "none") + ("optim.warmup_steps=500",
                                                   "optim.weight_decay=1e-6")}

# Stage 5's probes, on the weakest stage-4 member (seed 0): the training seed (run-to-run
# spread), width, depth, activation, weight decay and (run after stage 7) a learning rate
# above stage 4's 3e-3 and the energy head without spectral norm.
_PROBES = ("lr3e-3_k1_edm", "lr3e-3_k1_edm_seed1", "lr3e-3_k1_edm_seed2", "lr3e-3_k1_edm_w128",
           "lr3e-3_k1_edm_w512", "lr3e-3_k1_edm_d4", "lr3e-3_k1_edm_silu",
           "lr3e-3_k1_edm_wd1e-2", "lr3e-3_k1_edm_wd3e-2", "lr3e-3_k1_edm_wd1e-1",
           "lr1e-2_k1_edm", "lr3e-3_k1_edm_nosn")


def first_tuning_seed_per_act_dim() -> tuple:
  """The first tuning member (in seed order) of each action dimension 1-6: a tuning set
  that spans the family's action dimensions (the first few seeds happen to be 4-5-D)."""
  first = {}
  for seed in tuning_seeds(HELD_OUT_START):
    first.setdefault(family_member(seed).act_dim, seed)
    if len(first) == FAMILY_RANGES["act_dim"][1]:
      return tuple(first[d] for d in sorted(first))
  raise ValueError("the tuning set lacks an action dimension")


def _stages() -> tuple:
  """The tuning protocol, stage by stage (each: tuning seeds x candidates, 24k steps each).

  1. Do four noise levels per sample pay for being several times slower (the issue's best
     row used them), and does the EDM preconditioning help? One member.
  2. EDM preconditioning again, on a second member.
  3. EMA horizon and reward reading, with the EDM preconditioning, one noise level and a
     learning rate of 1e-3, on the first tuning members of action dimensions 1, 4 and 5.
     The defaults are chosen here (experiments/bandit_family_report.py, `choose`).

  4. The learning rate, 1e-3 against 3e-3, on the first tuning member of every action
     dimension (1-6). The defaults were chosen here for round 2, which met the median goals
     and missed the 10th percentile (0.770 < 0.85): its weakest members have 4-5 modes.
  5. Probes on stage 4's weakest member (seed 0, 4 modes): the training seed, width, depth,
     activation, weight decay, a learning rate of 1e-2 and the energy head without spectral
     norm, one change each. Trained on 80,000 demos instead of 20,000 the same candidate
     scored 0.938 against 0.884 (centered:0.5, EMA horizon 0.4; a diagnosis outside the
     stages, as the member's data differ: results/raw/bandit_family/diagnosis/
     data80k_seed0.json, its command inside), so the weak members are short of data and a
     regularizer is worth trying; weight decay 1e-2 and 3e-2 scored best.
  6. Weight decay 1e-2 on stage 4's second weakest member (seed 1).
  7. Weight decay 1e-2 against none on stage 4's members. The rule, run on this stage while
     it was the last, kept stage 4's pick (median 0.951 against weight decay's 0.946,
     though weight decay raised the two weakest members, 0.857 -> 0.878 and 0.884 ->
     0.903), so round 2 stands for the defaults as shipped.
  8. The learning rate again, 1e-3 against 3e-3, on stage 4's members plus the first two
     tuning members with a 1-D action, 5 modes and a temperature above 0.8: near-uniform
     experts, whose Q moves the log density by about 0.4 nats (per-state standard
     deviation) over the expert's own actions. The tuning set had none of this kind and
     round 2's weakest members include near-uniform many-mode ones (10012, 10023), so these
     members were added after round 2, found by their sizes alone, and any choice here is
     measured on a fresh held-out round. The rule kept 3e-3 on its median (stage 8's
     table); its 10th percentile is set by runs whose learned term went flat in the action,
     so the reward read the EDM prior's quadratic alone (about the same Pearson at every
     level): seed 261 at 3e-3 here, and seed 294 at 3e-3 with training seed 1 in a
     diagnosis outside the stages (Pearson 0.448, the prior's own figure, where 1e-3 read
     0.887 with both training seeds). `experiments.reward_report` flags such a run.
  9. The warm-up, 500 steps (stage 8's 3e-3) against 10% of the run (2,400 steps), on stage
     8's members. Probes on seed 261 outside the stages (learned term's spread and Pearson
     read every 2,000 steps from the checkpoints) showed the collapse within the first
     2,000 steps at 3e-3, right after the 500-step warm-up, the time embedding grown to 40
     times its healthy size; a LayerNorm in the MLP, on its conditioning or both let the
     term come back later (0.65-0.75) but did not stop the collapse; a 2,400-step warm-up
     did (0.831, against 0.801 at 1e-3 and 0.379 collapsed). Stage 9's runs were made on
     another CPU model than stage 8's, so from this stage on the rule compares samples/s
     only between runs that recorded one and the same CPU model (`choose`; decided before
     stage 9's comparison was read: one of its eight runs had finished).
     The rule picked the 10% warm-up (median Pearson 0.901 for both; 10th percentile 0.846
     against 0.615: seeds 261 and 294 no longer collapse, 0.831 and 0.897) at EMA horizon
     0.1 (ahead of 0.4 by 1e-5: a tie the rule breaks as written). Round 3 scores it.
  10. Weight decay 1e-2 on stage 9's pick, on stage 9's members, chosen by rule `p10`.
     Round 3 met both median goals and missed the 10th percentile (0.842 < 0.85), on
     3-5-mode members; in stage 7 weight decay raised the two weakest members (0.857 ->
     0.878, 0.884 -> 0.903) for 0.005 of the median, a trade the median-only rule could not
     see. So from this stage on the rule (`choose`, rule 'p10') takes, among the cells within
     0.02 of the best median, those within 0.01 of the best 10th percentile, and of them
     the best median; stages 1-9 keep the rule they were chosen by. Rule and candidate were
     fixed before any of this stage's new runs; its pick is scored on a fresh held-out round.
     The rule picked weight decay (median 0.905 against 0.901; 10th percentile 0.860 against
     0.846) at EMA horizon 0.4 (its cells at 0.003-0.4 within 0.001 of each other: a tie the
     rule breaks as written), read at t = 0.5. Round 4 scores it.

  Stage 3 was planned as stage 4 (12 runs); at 10-16 min a run on the 2-core CPU it was cut,
  before any held-out member ran at the defaults, to the three runs above. The first
  held-out round (`held_out_rounds`) then missed the goal with stage 3's pick, and stage 4
  ran the cut runs on tuning members only; its pick is measured on a second round of fresh
  held-out seeds, so no choice rests on a member it is scored on.
  """
  return (dict(seeds=(0,), candidates=("lr1e-3_k1_none", "lr1e-3_k1_edm", "lr1e-3_k4_edm")),
          dict(seeds=(1,), candidates=("lr1e-3_k1_none", "lr1e-3_k1_edm")),
          dict(seeds=_stage3_seeds(), candidates=("lr1e-3_k1_edm",)),
          dict(seeds=_stage3_seeds() + _stage4_new_seeds(),
               candidates=("lr1e-3_k1_edm", "lr3e-3_k1_edm")),
          dict(seeds=(0,), candidates=_PROBES),
          dict(seeds=(1,), candidates=("lr3e-3_k1_edm", "lr3e-3_k1_edm_w128",
                                       "lr3e-3_k1_edm_wd1e-2")),
          dict(seeds=_stage3_seeds() + _stage4_new_seeds(),
               candidates=("lr3e-3_k1_edm", "lr3e-3_k1_edm_wd1e-2")),
          dict(seeds=_stage3_seeds() + _stage4_new_seeds() + _near_uniform_seeds(),
               candidates=("lr1e-3_k1_edm", "lr3e-3_k1_edm")),
          dict(seeds=_stage3_seeds() + _stage4_new_seeds() + _near_uniform_seeds(),
               candidates=("lr3e-3_k1_edm", "lr3e-3_k1_edm_wu10")),
          dict(seeds=_stage3_seeds() + _stage4_new_seeds() + _near_uniform_seeds(),
               candidates=("lr3e-3_k1_edm_wu10", "lr3e-3_k1_edm_wu10_wd1e-2"), rule="p10"))


def _stage3_seeds() -> tuple:
  """The first tuning members of action dimensions 1, 4 and 5 (see _stages)."""
  first = first_tuning_seed_per_act_dim()
  return tuple(first[d - 1] for d in (1, 4, 5))


def _stage4_new_seeds() -> tuple:
  """The first tuning members of the action dimensions stage 3 left out: 2, 3 and 6."""
  first = first_tuning_seed_per_act_dim()
  return tuple(first[d - 1] for d in (2, 3, 6))


def _near_uniform_seeds(count: int = 2) -> tuple:
  """The first tuning members (in seed order) with a 1-D action, 5 modes and a
  temperature above 0.8 (see _stages, stage 8)."""
  found = []
  for seed in tuning_seeds(HELD_OUT_START):
    m = family_member(seed)
    if m.act_dim == 1 and m.num_modes == 5 and m.temperature > 0.8:
      found.append(seed)
      if len(found) == count:
        return tuple(found)
  raise ValueError("the tuning set lacks near-uniform 5-mode members")


def _cold_many_mode_seeds(count: int = 8) -> tuple:
  """The first tuning members (in seed order) with 4-5 modes and a temperature below
  COLD_TEMPERATURE, outside the stages (see _studies, cold_modes)."""
  staged = {seed for stage in _stages() for seed in stage["seeds"]}
  found = []
  for seed in tuning_seeds(HELD_OUT_START):
    m = family_member(seed)
    if m.num_modes >= 4 and m.temperature < COLD_TEMPERATURE and seed not in staged:
      found.append(seed)
      if len(found) == count:
        return tuple(found)
  raise ValueError("the tuning set lacks cold many-mode members")


def _in_order(cold: tuple, order: tuple) -> tuple:
  """`order`, a fixed ordering of the cold_modes seeds (a study cut short has run its first
  ones), checked against the seeds _cold_many_mode_seeds picks now."""
  if sorted(order) != sorted(cold):
    raise ValueError(f"the cold_modes seeds changed ({cold}): order them again")
  return order


# The cold_modes seeds by their cold_modes Pearson (results/bandit_family.md), lowest first,
# and by context dimension, largest first (ties: weakest first).
WEAKEST_FIRST = (37, 27, 40, 28, 25, 15, 5, 41)
LARGE_CONTEXT_FIRST = (27, 28, 40, 37, 5, 25, 41, 15)


def _studies() -> dict:
  """Controlled studies on the tuning seeds (`experiments.bandit_tune --study=NAME`): one
  candidate, one member setting changed, each run paired with the stage run of the same
  candidate and seed (its record under RAW_DIR/tuning/).

  demos80k: are the many-mode members short of data? Round 3 missed the 10th-percentile
  goal on 3-5-mode members, and every default tried on tuning member 0 (4 modes, stage 5)
  read 0.83-0.91 where 80,000 demos read 0.94 (diagnosis/data80k_seed0.json). Here the
  defaults as shipped (stage 9's pick) train on 80,000 demos instead of 20,000, on stage 9's
  members (same steps, batch and samples seen; only the number of distinct demos
  changes), most modes first.

  demos80k_wd: the same with stage 10's pick (weight decay 0.01), seed 261 first: its
  demos80k run collapsed (the learned term went flat; the same Pearson at every level), so
  does the recipe shipped now collapse on the same data?

  The UNet (chunk4_*): the defaults were tuned with the MLP on single actions; the UNet
  reads chunks of actions (its two downsamplings need a horizon that is a multiple of 4).
  Each member here is chunked (efjax/envs/bandit_files.py: 1,000 contexts of 40 exact
  expert draws each, a chunk's soft Q the sum of its steps') and trained with
  data.action_horizon=4, same steps and batch. chunk4_mlp: the defaults' MLP on chunks,
  against its stage run on single actions; chunk4_unet: the defaults with the UNet, against
  chunk4_mlp; chunk4_unet_paper: the paper's recipe with the UNet, against chunk4_unet,
  read at the paper's cell (its `cell`: EMA horizon 0.4, the paper's t = 1e-3).
  bf16: the defaults with model.compute_dtype=bfloat16 (bf16 matmul inputs, float32
  accumulation and master weights), against the stage runs: bf16's cost on the recovered
  reward (its cost on the loss curve: benchmarks/bf16_accuracy.py).
  cold_modes: where the held-out rounds fail. Of the held-out members scored with the
  defaults (rounds 1-5), those with 4-5 modes and a temperature below 0.35 read the lowest
  median Pearson, and the stages hold none (their coldest many-mode member, seed 1, has
  temperature 0.38). Here the defaults as shipped run on the first eight such tuning
  members outside the stages (the first four ran first; of them only seed 27 has a large
  context, so the next four, three with 5-8 context dimensions, were added before they
  ran): a baseline, changed nothing, for the studies paired with it.
  cold_modes_demos80k: the same on 80,000 demos
  (same steps and batch): is that corner short of data at 20,000?
  cold_modes_lognormal: the same members and demos, trained with the VE schedule's
  log-normal training levels (schedule ve_lognormal: sigma's median 0.30, where the
  defaults read the reward) instead of t ~ U[0, 1] (a third of the draws between sigma 0.1
  and 1); sampling and the reading are unchanged. Does training where the reward is read
  lift the corner that data did? Weakest cold_modes members first. Stopped after three
  members (the table): at the shipped cell one lower, one level, one a little higher; the
  best reading lower on two; every reading below t = 0.5 lower on all three. The uniform
  levels stay.
  cold_modes_wd1e-1: the same members and demos with weight decay 0.1 instead of 0.01. On
  seed 27 (8 context dimensions) with a fifth of its episodes held out, the validation DSM
  loss was lowest about 14k steps into the 24k-step run and rose after it while the
  training loss kept falling, and the reward read at the 15k checkpoint beat the one at
  24k: the large-context members overfit their 20,000 demos (as cold_modes_demos80k's
  lift on them also says). Does stronger decay hold them back? Large contexts first.
  Stopped after four members (the table): seed 27 higher at every reading, but 28, 37
  and 40 lower at the shipped cell and at their best readings, by more than 27 gained.
  Weight decay stays 0.01.
  cold_modes_dropout: the same members and demos with dropout 0.1 after every activation of
  the MLP layers in training (model.dropout; the paper: none), the regularizer IDQL's
  score network uses on small offline datasets. dropout: the same on stage 10's members,
  against their stage runs. An uncommitted patch of the same layers ran both first: on
  cold_modes it lifted seed 27 (+0.07 at the shipped cell) and moved the others by -0.03
  to +0.01, but on the stage members it collapsed seed 294 (the learned term flat: the same
  Pearson at every reading) and lowered 261 and 7; this pair of studies is its committed
  rerun, the seeds it hurt and helped most first. The rerun (the tables): 294 did not
  collapse this time; dropout lifted the four members with a 5-8-dimensional context and a
  temperature below 0.3, and lowered 7 and 261 (temperature near 1) and 5; over the 16
  members the median change is nil. Dropout stays off (model.dropout 0).
  A study's `flags` follow the family's user flags (the later value of a key wins) and
  `paired_with` names the study its runs are compared with (default: the stage runs).
  """
  chunked = dict(num_demos=40_000, episode_length=40, action_horizon=4)
  chunk_seeds = (1, 0, 7, 4, 261, 294, 12, 6)
  cold = _cold_many_mode_seeds()
  shipped = "lr3e-3_k1_edm_wu10_wd1e-2"
  return dict(demos80k=dict(candidate="lr3e-3_k1_edm_wu10", member=dict(num_demos=80_000),
                            seeds=(1, 0, 261, 294, 7, 4, 12, 6)),
              demos80k_wd=dict(candidate="lr3e-3_k1_edm_wu10_wd1e-2",
                               member=dict(num_demos=80_000),
                               seeds=(261, 1, 0, 294, 7, 4, 12, 6)),
              bf16=dict(candidate="lr3e-3_k1_edm_wu10_wd1e-2", member={},
                        flags=("model.compute_dtype=bfloat16",),
                        seeds=(1, 0, 261, 294, 7, 4, 12, 6)),
              chunk4_mlp=dict(candidate="lr3e-3_k1_edm_wu10_wd1e-2", member=chunked,
                              flags=("data.action_horizon=4",), seeds=chunk_seeds),
              chunk4_unet=dict(candidate="lr3e-3_k1_edm_wu10_wd1e-2", member=chunked,
                               flags=("data.action_horizon=4", "model.backbone=unet"),
                               seeds=chunk_seeds, paired_with="chunk4_mlp"),
              chunk4_unet_paper=dict(candidate="paper_recipe", member=chunked,
                                     flags=("data.action_horizon=4", "model.backbone=unet"),
                                     seeds=chunk_seeds, paired_with="chunk4_unet",
                                     cell=dict(ema_horizon="0.4", reading="centered:0.001")),
              cold_modes=dict(candidate=shipped, member={}, seeds=cold),
              cold_modes_demos80k=dict(candidate=shipped, member=dict(num_demos=80_000),
                                       seeds=cold, paired_with="cold_modes"),
              cold_modes_lognormal=dict(candidate=shipped, member={},
                                        flags=("schedule.name=ve_lognormal",),
                                        seeds=_in_order(cold, WEAKEST_FIRST),
                                        paired_with="cold_modes"),
              cold_modes_dropout=dict(candidate=shipped, member={},
                                      flags=("model.dropout=0.1",),
                                      seeds=_in_order(cold, LARGE_CONTEXT_FIRST),
                                      paired_with="cold_modes"),
              dropout=dict(candidate=shipped, member={}, flags=("model.dropout=0.1",),
                           seeds=(294, 7, 261, 1, 0, 4, 12, 6)),
              **{"cold_modes_wd1e-1": dict(candidate=shipped, member={},
                                           flags=("optim.weight_decay=0.1",),
                                           seeds=_in_order(cold, LARGE_CONTEXT_FIRST),
                                           paired_with="cold_modes")})


# Reward readings scored in tuning, as `kind:levels` (centered: one t; multi_noise: the
# levels it averages). The centering term is a per-state constant, which every metric
# removes, so tuning reads with one reference action (reward.num_reference=1): the same
# scores as sixteen at a sixteenth of the cost.
READINGS = ("centered:0.001", "centered:0.1", "centered:0.2", "centered:0.3", "centered:0.4",
            "centered:0.5", "centered:0.6", "centered:0.7", "multi_noise:0.3,0.4,0.5",
            "multi_noise:0.4,0.5,0.6", "multi_noise:0.5,0.6,0.7")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.member = dict(num_demos=20_000, episode_length=100, num_states=64, num_actions=64,
                  action_horizon=1)
  c.user_flags = USER_FLAGS
  c.settings = dict(defaults="experiments/configs/demos.py",
                    paper="experiments/configs/demos.py:paper")
  # Held-out rounds, each a fresh set of held-out seeds scored once per setting: round 1 ran
  # the defaults stage 3 picked, round 2 those stage 4 picked, round 3 those stage 9 picked
  # and rounds 4 and 5 those stage 10 picked (demos.py as it is).
  c.held_out_rounds = (
      dict(name="round 1", seeds=tuple(held_out_seeds(12)), settings=("defaults", "paper"),
           picked_by="stage 3"),
      dict(name="round 2", seeds=tuple(held_out_seeds(24)[12:]), settings=("defaults",),
           picked_by="stage 4"),
      dict(name="round 3", seeds=tuple(held_out_seeds(36)[24:]), settings=("defaults",),
           picked_by="stage 9"),
      dict(name="round 4", seeds=tuple(held_out_seeds(48)[36:]), settings=("defaults",),
           picked_by="stage 10"),
      # The same defaults as round 4 on 24 more fresh members: 12 members leave each goal's
      # statistic a wide interval (the report's bootstrap), so the report pools rounds that
      # ran the same recipe.
      dict(name="round 5", seeds=tuple(held_out_seeds(72)[48:]), settings=("defaults",),
           picked_by="stage 10"))
  c.tune = dict(stages=_stages(), candidates=_candidates(),
                ema_horizons=(0.003, 0.01, 0.03, 0.1, 0.4), readings=READINGS,
                studies=_studies())
  # experiments.bandit_ceiling: a perfect energy's scores at the defaults' reading levels,
  # on stage 10's members and cold_modes' (where the defaults read lowest).
  c.ceiling = dict(seeds=_stages()[-1]["seeds"] + _cold_many_mode_seeds(),
                   readings=(0.4, 0.5, 0.6), num_draws=(10_000, 40_000))
  c.raw_dir = "results/raw/bandit_family"
  c.report = dict(markdown="results/bandit_family.md", plot="results/bandit_family.png")
  if arg == "smoke":
    # Records and report under WORKDIR (experiments/bandit_runs.place_outputs): a smoke
    # run never touches the committed results.
    c.raw_dir = "{workdir}/raw"
    c.report = dict(markdown="{workdir}/bandit_family.md", plot="{workdir}/bandit_family.png")
    c.member.update(num_demos=400, num_states=8, num_actions=8)
    c.user_flags = ("data.obs_horizon=1", "data.action_horizon=1", "model.backbone=mlp",
                    "train.num_steps=40", "train.steps_per_call=20", "train.log_every=20",
                    "train.checkpoint_every=20", "train.eval_every=0",
                    "model.mlp.hidden=(32,32)", "model.obs_hidden=(16,)", "model.emb_dim=16",
                    "model.head_hidden=(16,)")
    c.held_out_rounds = (dict(name="round 1", seeds=tuple(held_out_seeds(2)),
                              settings=("defaults", "paper"), picked_by="stage 1"),)
    c.tune.stages = (dict(seeds=tuple(tuning_seeds(2)), candidates=("lr1e-3_k1_none",)),)
    c.ceiling = dict(seeds=tuple(tuning_seeds(1)), readings=(0.5,), num_draws=(100, 200))
    c.tune.ema_horizons = (0.1, 0.4)
    c.tune.readings = ("centered:0.4",)
    chunked = dict(num_demos=400, episode_length=20, action_horizon=4)
    c.tune.studies = dict(demos2x=dict(candidate="lr1e-3_k1_none",
                                       member=dict(num_demos=800), seeds=tuple(tuning_seeds(1))),
                          chunk4=dict(candidate="lr1e-3_k1_none", member=chunked,
                                      flags=("data.action_horizon=4",),
                                      seeds=tuple(tuning_seeds(1))),
                          chunk4_edm=dict(candidate="lr1e-3_k1_edm", member=chunked,
                                          flags=("data.action_horizon=4",),
                                          seeds=tuple(tuning_seeds(1)), paired_with="chunk4",
                                          cell=dict(ema_horizon="0.1",
                                                    reading="centered:0.4")))
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of bandit_family.py; valid: '' or 'smoke'")
  return c
