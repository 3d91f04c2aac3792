"""The range test's defaults, shared by ``lr_find``, ``LRFinder`` and ``keras-dlm lr-find``.

A module of its own, free of Keras, so that ``keras-dlm --help`` can show them
without starting a backend.
"""

# fastai's, except the smoothing. With fastai's 0.98 the smoothed loss lags
# ~50 of the 100 steps and the valley suggestion for the digits CNN (SGD,
# momentum 0.9) spread 3.7x over 5 seeds; with 0.9 it stayed within 2.5x
# (docs/methods/sgd.md).
DEFAULT_MIN_LR = 1e-7
DEFAULT_MAX_LR = 10.0
DEFAULT_NUM_STEPS = 100
DEFAULT_SMOOTHING = 0.9
DEFAULT_STOP_FACTOR = 4.0
DEFAULT_BATCH_SIZE = 32
DEFAULT_METHOD = "valley"
# fastai's four suggestions, in the order results list them; the first is
# DEFAULT_METHOD.
METHODS = ("valley", "slide", "minimum", "steep")
