"""The pyfunc's code file (MLflow "models from code"): MLflow executes it to load the model, nothing is unpickled.

The logic lives in `pyfunc_model`; this file only names the model object, as `set_model` requires.
"""

import mlflow

from credit_risk.model.pyfunc_model import PortablePD

mlflow.models.set_model(PortablePD())
