"""rlscale: scaling laws of value-based deep RL in JAX."""
