"""ssvae: the semi-supervised VAE of Berkhahn et al. (2019) in JAX/Flax."""
