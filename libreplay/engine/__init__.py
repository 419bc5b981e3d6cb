"""The Docker engine: the one client and its error mapping, labels, images, the Compose program."""
