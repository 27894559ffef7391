"""Class balancing for the supervised models: the package's `credit_risk.weights`, under the design's name."""

from credit_risk.weights import add_weight_column, compute_class_weights

__all__ = ["add_weight_column", "compute_class_weights"]
