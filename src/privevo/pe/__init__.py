"""Private Evolution itself: the DP nearest-neighbour histogram, its noise, selection and the population steps."""
