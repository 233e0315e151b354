"""seqlab's Optuna sweeper for Hydra: `hydra/sweeper=seqlab_optuna` (see conf/hparams_search/).

Hydra finds it by scanning the `hydra_plugins` namespace package, which is why it lives outside
`seqlab`; it drives Optuna directly (ask/tell), so it works with current Optuna and Hydra 1.3.
"""
