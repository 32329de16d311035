"""The code file MLflow loads the exported model from ("models from code", so no pickle).

Export passes this file's path as ``python_model``; MLflow copies it into the model and runs it
at load time. It is not imported by the package.
"""

import mlflow

from prodcat.serving.pyfunc import ProdcatModel

mlflow.models.set_model(ProdcatModel())
