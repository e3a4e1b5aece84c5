"""The class set of the private data: public by assumption (the accountant does not charge for it)."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NUM_CLASSES = len(FASHION_MNIST_CLASSES)
