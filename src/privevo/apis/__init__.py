"""The foundation model's two calls, RANDOM_API and VARIATION_API, behind one registry."""
