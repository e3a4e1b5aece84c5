"""Models privevo trains: the public foundation DDPM and the downstream classifiers."""
