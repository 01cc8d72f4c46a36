"""The project's pipelines, one package each (found by ``find_pipelines``)."""

import warnings

# Model outputs are namespaced per variant and target (``mfcc_cnn.valence.metrics``), and the
# nodes that compare models (model_metrics, reporting, inference) read them by that full name
# on purpose. Kedro warns about every such dotted name; the warning says nothing here.
warnings.filterwarnings(
    "ignore", message="One or more dataset names contain '.'", category=UserWarning
)
